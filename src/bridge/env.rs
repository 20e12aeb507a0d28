//! Per-environment state (Node's main thread or a worker): the bridge, the JS helpers from
//! `index.js`, and the isolates to dispose when the environment shuts down.

use crate::bridge::js;
use crate::bridge::{Bridge, Callback};
use crate::isolate::IsolateHost;
use crossbeam_channel::Receiver;
use napi::sys;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::{Arc, Weak};

/// State of one Node environment; lives in its napi instance data. Node's thread only (it is
/// neither `Send` nor `Sync`).
///
/// Shared, not exclusive: a synchronous call may re-enter the library (a guest calls a host
/// function that calls into an isolate again) while an outer call still uses this data, so
/// every mutable field is a `Cell`/`RefCell`, and no borrow of one is held across a call into
/// JavaScript or into an isolate.
pub struct EnvData {
  /// Completion channel to this environment's loop.
  pub bridge: Arc<Bridge>,
  /// The helper object `index.js` registers (type checks Node-API lacks).
  helpers: Cell<Option<sys::napi_ref>>,
  /// The library object (`module.exports`), recognised when transferred into an isolate.
  library: Cell<Option<sys::napi_ref>>,
  /// The helper functions by name, resolved once.
  helper_fns: RefCell<HashMap<&'static str, sys::napi_ref>>,
  /// Requests for this thread from isolates while it waits in a synchronous call (served by
  /// whichever wait loop is innermost), and the waiter record isolates see.
  sync_requests: OnceCell<(Receiver<Callback>, Waiter)>,
  /// The waiter record of inline synchronous calls (see [`EnvData::inline_waiter`]).
  inline_waiter: OnceCell<Waiter>,
  /// Isolates created in this environment.
  isolates: RefCell<Vec<Weak<IsolateHost>>>,
  /// Host values referenced from isolates (`HostRef` ids → napi references; `true` when the
  /// value is a primitive kept in a wrapper object, since references to primitives need a newer
  /// Node-API).
  host_refs: RefCell<crate::ids::IdMap<u32, (sys::napi_ref, bool)>>,
  next_host_id: Cell<u32>,
}

/// A waiter record as isolates see it (a [`crate::bridge::SyncWaiter`]).
pub type Waiter = Arc<dyn std::any::Any + Send + Sync>;

unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  crate::unwind::contain((), || {
    // SAFETY: `data` is the Box<EnvData> leaked in `EnvData::get`; Node calls this once, after
    // every call into the library for this environment has returned.
    drop(unsafe { Box::from_raw(data as *mut EnvData) });
  });
}

unsafe extern "C" fn cleanup(arg: *mut c_void) {
  crate::unwind::contain((), || {
    // SAFETY: `arg` is the EnvData pointer, still alive: the instance-data finaliser runs after
    // the environment's cleanup hooks. Shared access only, as everywhere else.
    let data = unsafe { &*(arg as *const EnvData) };
    let isolates = std::mem::take(&mut *data.isolates.borrow_mut());
    for iso in isolates {
      if let Some(iso) = iso.upgrade() {
        iso.shutdown();
      }
    }
  });
}

impl EnvData {
  /// The environment's data, created on first use. Node's thread of `env` only.
  ///
  /// The reference stays valid while the environment lives (it is freed at environment
  /// teardown, after the last call into the library): use it within the current call from Node
  /// and never keep it. It is cheap (one Node-API call, no allocation).
  pub fn get(env: sys::napi_env) -> napi::Result<&'static EnvData> {
    let mut ptr: *mut c_void = null_mut();
    // SAFETY: valid env.
    js::check(unsafe { sys::napi_get_instance_data(env, &mut ptr) })?;
    if ptr.is_null() {
      let data = Box::new(EnvData {
        bridge: Bridge::new(env)?,
        helpers: Cell::new(None),
        helper_fns: RefCell::new(HashMap::new()),
        library: Cell::new(None),
        sync_requests: OnceCell::new(),
        inline_waiter: OnceCell::new(),
        isolates: RefCell::new(Vec::new()),
        host_refs: RefCell::new(crate::ids::IdMap::default()),
        next_host_id: Cell::new(1),
      });
      ptr = Box::into_raw(data) as *mut c_void;
      // SAFETY: ownership of the box moves to the environment (freed in `finalize`).
      js::check(unsafe { sys::napi_set_instance_data(env, ptr, Some(finalize), null_mut()) })?;
      // SAFETY: the hook runs once at environment teardown with the same pointer.
      js::check(unsafe { sys::napi_add_env_cleanup_hook(env, Some(cleanup), ptr) })?;
    }
    // SAFETY: the instance data is an EnvData we created, alive until the environment's
    // teardown; it is only ever accessed through shared references (mutation goes through its
    // cells), on this env's thread (EnvData is neither Send nor Sync).
    Ok(unsafe { &*(ptr as *const EnvData) })
  }

  /// Records an isolate for disposal at environment teardown.
  pub fn track(&self, iso: &Arc<IsolateHost>) {
    let mut isolates = self.isolates.borrow_mut();
    isolates.retain(|w| w.strong_count() > 0);
    isolates.push(Arc::downgrade(iso));
  }

  /// Keeps `value` alive for isolates; returns its id in the host table.
  pub fn add_host_ref(&self, env: sys::napi_env, value: sys::napi_value) -> napi::Result<u32> {
    let wrapped = !matches!(
      js::type_of(env, value),
      sys::ValueType::napi_object | sys::ValueType::napi_function
    );
    let target = if wrapped {
      let mut holder = null_mut();
      // SAFETY: valid env.
      js::check(unsafe { sys::napi_create_object(env, &mut holder) })?;
      js::set_named(env, holder, "v", value)?;
      holder
    } else {
      value
    };
    let mut r = null_mut();
    // SAFETY: valid env and object.
    js::check(unsafe { sys::napi_create_reference(env, target, 1, &mut r) })?;
    let id = self.next_host_id.get();
    self.next_host_id.set(id.wrapping_add(1).max(1));
    self.host_refs.borrow_mut().insert(id, (r, wrapped));
    Ok(id)
  }

  /// The host value with table id `id`.
  pub fn host_value(&self, env: sys::napi_env, id: u32) -> Option<sys::napi_value> {
    let (r, wrapped) = *self.host_refs.borrow().get(&id)?;
    let mut v = null_mut();
    // SAFETY: the reference belongs to this env.
    if unsafe { sys::napi_get_reference_value(env, r, &mut v) } != sys::Status::napi_ok
      || v.is_null()
    {
      return None;
    }
    if wrapped {
      return js::get_named(env, v, "v").ok();
    }
    Some(v)
  }

  /// Number of host values kept alive for isolates (a test hook reports it).
  pub fn host_ref_count(&self) -> usize {
    self.host_refs.borrow().len()
  }

  /// Identifies this environment (as [`crate::bridge::host_ref::HostRef::env_key`] does).
  pub fn bridge_key(&self) -> usize {
    Arc::as_ptr(&self.bridge) as usize
  }

  /// Drops a host table entry.
  pub fn remove_host_ref(&self, env: sys::napi_env, id: u32) {
    let removed = self.host_refs.borrow_mut().remove(&id);
    if let Some((r, _)) = removed {
      // SAFETY: the reference belongs to this env and is deleted once.
      unsafe { sys::napi_delete_reference(env, r) };
    }
  }

  /// Deletes reference `r` of this env on a later turn of its event loop. For finalizers: Node
  /// runs them inside the garbage collection (see `bridge/api_version.rs`), where some Node
  /// versions refuse to delete a reference (the process aborts).
  pub fn delete_ref_later(&self, r: sys::napi_ref) {
    let r = crate::bridge::NodePtr(r);
    self.bridge.post(Box::new(move |env| {
      // SAFETY: the env's thread; the reference belongs to this env and is deleted once.
      unsafe { sys::napi_delete_reference(env, r.get()) };
    }));
  }

  /// Helper function `name` of the helper object (resolved once, then cached).
  pub fn helper_fn(&self, env: sys::napi_env, name: &'static str) -> napi::Result<sys::napi_value> {
    let cached = self.helper_fns.borrow().get(name).copied();
    if let Some(r) = cached {
      let mut v = null_mut();
      // SAFETY: the reference belongs to this env.
      js::check(unsafe { sys::napi_get_reference_value(env, r, &mut v) })?;
      return Ok(v);
    }
    let helpers = self.helpers(env)?;
    let f = js::get_named(env, helpers, name)?;
    let mut r = null_mut();
    // SAFETY: valid env and function.
    js::check(unsafe { sys::napi_create_reference(env, f, 1, &mut r) })?;
    let previous = self.helper_fns.borrow_mut().insert(name, r);
    if let Some(old) = previous {
      // SAFETY: a reference of this env, replaced (resolved meanwhile by a re-entrant call).
      unsafe { sys::napi_delete_reference(env, old) };
    }
    Ok(f)
  }

  /// Registers the helper object (a reference of this env), dropping the previous one and the
  /// helper functions resolved from it.
  pub fn set_helpers(&self, env: sys::napi_env, helpers: sys::napi_ref) {
    let resolved = std::mem::take(&mut *self.helper_fns.borrow_mut());
    for (_, f) in resolved {
      // SAFETY: the reference belongs to this env.
      unsafe { sys::napi_delete_reference(env, f) };
    }
    if let Some(old) = self.helpers.replace(Some(helpers)) {
      // SAFETY: the old reference belongs to this env.
      unsafe { sys::napi_delete_reference(env, old) };
    }
  }

  /// The library object's reference, once registered.
  pub fn library(&self) -> Option<sys::napi_ref> {
    self.library.get()
  }

  /// Registers the library object (a reference of this env), dropping the previous one.
  pub fn set_library(&self, env: sys::napi_env, library: sys::napi_ref) {
    if let Some(old) = self.library.replace(Some(library)) {
      // SAFETY: the old reference belongs to this env.
      unsafe { sys::napi_delete_reference(env, old) };
    }
  }

  /// This thread's request channel and waiter record for synchronous calls (created once).
  pub fn sync_requests(&self) -> (Receiver<Callback>, Waiter) {
    let (rx, w) = self.sync_requests.get_or_init(|| {
      let (tx, rx) = crossbeam_channel::unbounded();
      let w: Waiter = Arc::new(crate::bridge::SyncWaiter {
        env_key: self.bridge_key(),
        tx,
        inline: None,
      });
      (rx, w)
    });
    (rx.clone(), w.clone())
  }

  /// The waiter record of synchronous calls that run inline on this thread (created once).
  pub fn inline_waiter(&self, env: sys::napi_env) -> Waiter {
    self
      .inline_waiter
      .get_or_init(|| {
        // Requests from other threads go through the event loop instead (see `host_ref::call`).
        let (tx, _) = crossbeam_channel::unbounded();
        Arc::new(crate::bridge::SyncWaiter {
          env_key: self.bridge_key(),
          tx,
          inline: Some((crate::bridge::NodePtr(env), std::thread::current().id())),
        })
      })
      .clone()
  }

  /// The helper object registered by `index.js`.
  pub fn helpers(&self, env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let r = self
      .helpers
      .get()
      .ok_or_else(|| napi::Error::from_reason("helpers not registered"))?;
    let mut v = null_mut();
    // SAFETY: the reference belongs to this env.
    js::check(unsafe { sys::napi_get_reference_value(env, r, &mut v) })?;
    Ok(v)
  }
}
