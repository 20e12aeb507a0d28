//! The bridge between isolate threads and Node's event loop.
//!
//! * One threadsafe function per Node environment carries completions (`FnOnce(napi_env)`)
//!   from isolate threads to Node's thread. It keeps the loop alive only while async work is
//!   pending (ref'd on 0→1, unref'd on 1→0).
//! * [`run`] is the three-phase task in its three flavours: a promise settled from the isolate
//!   thread (`foo`), a blocking wait (`fooSync`), or fire-and-forget (`fooIgnored`).
//! * Below the API face, the rest of Node's side: per-environment data ([`mod@env`]), raw Node-API
//!   helpers ([`js`]), Node values ↔ the value tree ([`convert`]) and host values referenced
//!   from isolates ([`host_ref`]).
//!
//! This is the only module that blocks Node's thread.

#![allow(clippy::not_unsafe_ptr_arg_deref)] // napi handles are opaque; Node-API dereferences them.

use crate::bridge::env::EnvData;
use crate::isolate::{runner, IsolateHost};
use crate::transfer::once::{SettleOnce, Sink};
use crate::transfer::thrown::Thrown;
use napi::sys;
use napi::{Env, Status};
use parking_lot::RwLock;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub mod api_version;
pub mod await_host;
pub mod convert;
pub mod env;
pub mod host_ref;
pub mod js;
pub mod node_handles;
mod node_ptr;

pub use node_ptr::{NodeHandle, NodePtr};

/// Work for a Node environment's thread.
pub type Callback = Box<dyn FnOnce(sys::napi_env) + Send>;

/// A Node thread blocked in a synchronous call into an isolate; requests for that thread
/// (guest calls into host functions) go to `tx` and run inside its wait loop.
pub struct SyncWaiter {
  /// The environment (its bridge's address).
  pub env_key: usize,
  /// Requests for the waiting thread.
  pub tx: crossbeam_channel::Sender<Callback>,
  /// For a call running inline on the caller's thread: that thread and its `napi_env`. A
  /// request made on that very thread runs at once (with the isolate unlocked); from another
  /// thread it goes through the environment's event loop.
  pub inline: Option<(NodePtr<sys::napi_env>, std::thread::ThreadId)>,
}

/// The per-environment completion channel. `Send + Sync` through its fields: the threadsafe
/// function may be called from any thread, and the lock makes sure no call happens after the
/// environment finalised it.
pub struct Bridge {
  tsfn: RwLock<Option<NodePtr<sys::napi_threadsafe_function>>>,
  pending: AtomicUsize,
}

unsafe extern "C" fn call_js(
  env: sys::napi_env,
  _cb: sys::napi_value,
  _ctx: *mut c_void,
  data: *mut c_void,
) {
  if data.is_null() {
    return;
  }
  // SAFETY: `data` is the Box<Callback> leaked by `Bridge::post`, delivered exactly once.
  let cb = unsafe { Box::from_raw(data as *mut Callback) };
  if env.is_null() {
    return;
  }
  crate::unwind::contain((), move || cb(env));
}

unsafe extern "C" fn tsfn_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  crate::unwind::contain((), || {
    // SAFETY: `data` is the Arc<Bridge> pointer leaked in `Bridge::new`.
    let bridge = unsafe { Arc::from_raw(data as *const Bridge) };
    *bridge.tsfn.write() = None;
  });
}

impl Bridge {
  /// Creates the environment's threadsafe function (unref'd). Node's thread only.
  pub fn new(env: sys::napi_env) -> napi::Result<Arc<Bridge>> {
    let bridge = Arc::new(Bridge {
      tsfn: RwLock::new(None),
      pending: AtomicUsize::new(0),
    });
    let name = js::string(env, "isolated-vm-rs")?;
    let mut tsfn = std::ptr::null_mut();
    let raw = Arc::into_raw(bridge.clone()) as *mut c_void;
    // SAFETY: valid env on its own thread; the finalize data is an Arc reclaimed in
    // `tsfn_finalize`.
    let status = unsafe {
      sys::napi_create_threadsafe_function(
        env,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        name,
        0,
        1,
        raw,
        Some(tsfn_finalize),
        std::ptr::null_mut(),
        Some(call_js),
        &mut tsfn,
      )
    };
    if status != sys::Status::napi_ok {
      // SAFETY: reclaim the Arc leaked above; the function was not created.
      drop(unsafe { Arc::from_raw(raw as *const Bridge) });
      return Err(napi::Error::new(
        Status::GenericFailure,
        "napi_create_threadsafe_function failed",
      ));
    }
    // SAFETY: tsfn was just created on this env's thread.
    unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
    *bridge.tsfn.write() = Some(NodePtr(tsfn));
    Ok(bridge)
  }

  /// Runs `cb` on Node's thread. Any thread. Dropped silently if the environment is gone.
  pub fn post(&self, cb: Callback) {
    let guard = self.tsfn.read();
    if let Some(tsfn) = guard.as_ref() {
      let data = Box::into_raw(Box::new(cb)) as *mut c_void;
      // SAFETY: the function is alive (checked under the lock that its finaliser takes).
      let status = unsafe {
        sys::napi_call_threadsafe_function(
          tsfn.0,
          data,
          sys::ThreadsafeFunctionCallMode::nonblocking,
        )
      };
      if status != sys::Status::napi_ok {
        // SAFETY: not queued, so we still own the box.
        drop(unsafe { Box::from_raw(data as *mut Callback) });
      }
    }
  }

  /// One more pending async call: keeps Node's loop alive. Node's thread only.
  pub fn begin(&self, env: sys::napi_env) {
    if self.pending.fetch_add(1, Ordering::SeqCst) == 0 {
      if let Some(tsfn) = self.tsfn.read().as_ref() {
        // SAFETY: Node's thread of the owning env.
        unsafe { sys::napi_ref_threadsafe_function(env, tsfn.0) };
      }
    }
  }

  /// A pending async call settled. Node's thread only.
  pub fn end(&self, env: sys::napi_env) {
    if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
      if let Some(tsfn) = self.tsfn.read().as_ref() {
        // SAFETY: Node's thread of the owning env.
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn.0) };
      }
    }
  }
}

/// Which flavour of a method was called (the engine's one flavour enum).
pub use crate::isolate::flavor::Flavor;

/// What settles an async call's promise on Node's thread: its value, or the failure to reject
/// with (given the caller's stack).
type Outcome =
  Box<dyn FnOnce(sys::napi_env, sys::napi_value) -> Result<sys::napi_value, js::Failure> + Send>;

/// An async call's promise and the caller's stack, filled in on Node's thread right after the
/// call's job was posted (see [`run`]).
type PromiseSlot = Arc<OnceLock<(NodePtr<sys::napi_deferred>, NodePtr<sys::napi_ref>)>>;

/// An async call's promise as the [`Sink`] of its [`Completer`]: the outcome is posted to Node's
/// thread, which settles the promise and lets the loop go.
struct PromiseSink {
  bridge: Arc<Bridge>,
  slot: PromiseSlot,
}

impl Sink<Outcome> for PromiseSink {
  fn put(self, outcome: Outcome) {
    let PromiseSink { bridge, slot } = self;
    let b = bridge.clone();
    bridge.post(Box::new(move |env| {
      b.end(env);
      // Filled before the call that posted the job returned, which was before this callback
      // (it runs on the same thread); empty only if that call failed after posting.
      let Some((deferred, stack)) = slot.get() else {
        return;
      };
      let caller = js::take_ref(env, stack.get());
      match outcome(env, caller) {
        Ok(v) => js::resolve(env, deferred.get(), v),
        Err(f) => {
          let e = f.into_value(env, Some(caller));
          js::reject(env, deferred.get(), e);
        }
      }
    }));
  }
}

/// Settles an async call's promise; if dropped unsettled (job dropped by disposal), rejects it
/// with "Isolate is disposed" (the memory-limit error when a catastrophe took the isolate).
type Completer = SettleOnce<Outcome, PromiseSink>;

fn disposed() -> Outcome {
  let message = crate::transfer::once::dropped_message();
  Box::new(move |_env, _caller| Err(js::Failure::Thrown(Thrown::error(message))))
}

/// How long a synchronous caller polls for its result before it sleeps: most sync calls finish
/// within this, and polling saves the wake-up of a sleeping thread. `IVM_SYNC_SPIN_US`
/// overrides it (benchmarking).
fn sync_spin() -> std::time::Duration {
  static SPIN: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
  *SPIN.get_or_init(|| crate::isolate::thread::spin_from_env("IVM_SYNC_SPIN_US", 200))
}

/// Waits for a synchronous call's result on Node's thread, running the requests the isolate
/// sends for this thread meanwhile (guest → host calls). Polls briefly before sleeping.
fn wait_serving<T>(
  env: sys::napi_env,
  rx: &crossbeam_channel::Receiver<T>,
  run_rx: &crossbeam_channel::Receiver<Callback>,
) -> Result<T, crossbeam_channel::RecvError> {
  use crate::isolate::spin::{spin, try_recv, Poll};
  loop {
    let polled = spin(sync_spin(), || match try_recv(rx) {
      Poll::Idle => match run_rx.try_recv() {
        Ok(task) => {
          task(env);
          // More requests usually follow (a guest loop calling the host): poll again.
          Poll::Worked
        }
        Err(_) => Poll::Idle,
      },
      p => p,
    });
    if let Some(r) = polled {
      return r;
    }
    crossbeam_channel::select! {
      recv(rx) -> v => return v,
      recv(run_rx) -> task => if let Ok(task) = task {
        task(env);
      },
    }
  }
}

/// Phase 2 of a call (see [`crate::isolate::runner`]).
pub use crate::isolate::runner::Phase2;

/// Node's thread as the caller of a synchronous call: nothing to step out of; while a call
/// handed to the isolate's thread runs, it serves the requests that call sends for this thread
/// (guest → host calls).
struct NodeCaller {
  env: sys::napi_env,
  run_rx: crossbeam_channel::Receiver<Callback>,
}

impl runner::Caller for NodeCaller {
  fn inline<R>(&mut self, f: impl FnOnce() -> R) -> R {
    f()
  }

  fn wait<T>(
    &mut self,
    rx: &crossbeam_channel::Receiver<Result<T, Thrown>>,
  ) -> Result<Result<T, Thrown>, crossbeam_channel::RecvError> {
    wait_serving(self.env, rx, &self.run_rx)
  }
}

/// Runs a three-phase task. `phase3` turns the phase-2 result into a JS value on Node's thread.
pub fn run<T, P3>(
  env: &Env,
  host: &Arc<IsolateHost>,
  flavor: Flavor,
  phase2: Phase2<T>,
  phase3: P3,
) -> napi::Result<sys::napi_value>
where
  T: Send + 'static,
  P3: FnOnce(sys::napi_env, T) -> Result<sys::napi_value, js::Failure> + Send + 'static,
{
  let raw_env = env.raw();
  match flavor {
    Flavor::Sync => {
      let data = EnvData::get(raw_env)?;
      let inline_waiter = data.inline_waiter(raw_env);
      let (run_rx, handed_waiter) = data.sync_requests();
      let mut caller = NodeCaller {
        env: raw_env,
        run_rx,
      };
      match runner::run_sync(host, inline_waiter, handed_waiter, phase2, &mut caller) {
        Ok(t) => phase3(raw_env, t).map_err(|f| f.throw(raw_env)),
        Err(e) => Err(js::throw(raw_env, e)),
      }
    }
    Flavor::Async => {
      let bridge = EnvData::get(raw_env)?.bridge.clone();
      let slot = PromiseSlot::default();
      let completer = Completer::new(
        PromiseSink {
          bridge: bridge.clone(),
          slot: slot.clone(),
        },
        disposed,
      );
      // The job goes first, so the isolate works while this thread makes the promise and
      // captures the caller's stack. Its outcome (even "Isolate is disposed" from a job
      // dropped at once) reaches this thread through its event loop, after this call returned
      // and filled the slot. Dropped unrun with the job (disposal), the completer rejects.
      runner::run_async(host, phase2, move |r| {
        completer.settle(Box::new(move |env, _caller| match r {
          Ok(t) => phase3(env, t),
          Err(e) => Err(js::Failure::Thrown(e)),
        }))
      });
      bridge.begin(raw_env);
      let (deferred, promise) = js::create_promise(raw_env)?;
      let stack = match js::capture_stack(raw_env) {
        Ok(stack) => stack,
        Err(e) => {
          js::reject(raw_env, deferred, std::ptr::null_mut());
          return Err(e);
        }
      };
      let _ = slot.set((NodePtr(deferred), NodePtr(stack)));
      Ok(promise)
    }
    Flavor::Ignored => {
      runner::run_ignored(host, phase2);
      js::undefined(raw_env)
    }
  }
}
