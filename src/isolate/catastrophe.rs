//! Catastrophic failures of an isolate: a V8 fatal out-of-memory error, or a V8 fatal error
//! (a failed internal check), raised while the isolate runs. V8 aborts the process if its
//! handler returns; here the failure is contained to the isolate instead.
//!
//! Every stretch of V8 work on an isolate (a job on its thread, a synchronous call inline on
//! the caller's thread, V8's own tasks) runs [`guarded`]: a landing point is set first (by
//! `escape.c`, which owns the `sigsetjmp`), and V8's handlers jump back to the innermost one of
//! the failing thread. The frames in between (V8's and ours) are abandoned, not unwound, so the
//! isolate they ran in is never used again: it is marked failed, its lock is never released
//! (nobody takes it again: the host forgets it), and its memory is never freed. That is the
//! price of a contained catastrophe: the isolate's heap stays allocated for the life of the
//! process. The call that was running and the calls queued behind it fail with the
//! memory-limit error, and the isolate's `onCatastrophicError` hook gets V8's message.
//!
//! Where no landing point exists (a failure outside any guarded stretch), an isolate's own
//! thread parks forever after reporting; any other thread aborts the process, as V8 would.

use super::limits::MemoryState;
use super::thread::SharedState;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Reports a catastrophe to whoever created the isolate (`onCatastrophicError`). Called on the
/// failing thread, inside V8's handler: it must not block, and must not call into V8.
pub type Hook = Box<dyn Fn(String) + Send + Sync>;

unsafe extern "C" {
  fn ivm_guarded(body: unsafe extern "C" fn(*mut c_void), data: *mut c_void) -> c_int;
  fn ivm_escape();
  fn v8__V8__SetFatalErrorHandler(
    cb: unsafe extern "C" fn(file: *const c_char, line: c_int, message: *const c_char),
  );
  fn v8__Isolate__TryGetCurrent() -> *mut c_void;
  fn v8__Isolate__Exit(isolate: *mut c_void);
}

thread_local! {
  /// The isolates of this thread's guarded stretches, innermost last (one per landing point).
  static GUARDED: RefCell<Vec<Arc<SharedState>>> = const { RefCell::new(Vec::new()) };
  /// The message of the catastrophe that last escaped on this thread.
  static MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
  /// The isolate whose own thread this is (a failure outside any guarded stretch parks it).
  static HOME: RefCell<Option<Arc<SharedState>>> = const { RefCell::new(None) };
}

/// The message isolated-vm passes to `onCatastrophicError` for an out-of-memory failure; V8's
/// own text follows it.
const OOM: &str = "Catastrophic out-of-memory error";

/// Installs V8's process-wide fatal-error handler (once per process; any thread).
pub fn install() {
  static ONCE: std::sync::Once = std::sync::Once::new();
  ONCE.call_once(|| {
    // SAFETY: a plain function pointer that V8 calls on the failing thread.
    unsafe { v8__V8__SetFatalErrorHandler(on_fatal) };
  });
}

/// Marks the calling thread as `state`'s own isolate thread.
pub fn set_home(state: &Arc<SharedState>) {
  HOME.with(|h| *h.borrow_mut() = Some(state.clone()));
}

struct Frame<F, R> {
  f: Option<F>,
  out: Option<std::thread::Result<R>>,
}

unsafe extern "C" fn body<F: FnOnce() -> R, R>(data: *mut c_void) {
  // SAFETY: `data` is the Frame `guarded` passes, alive for the whole call.
  let frame = unsafe { &mut *(data as *mut Frame<F, R>) };
  if let Some(f) = frame.f.take() {
    frame.out = Some(std::panic::catch_unwind(AssertUnwindSafe(f)));
  }
}

/// Runs `f`, V8 work on the isolate of `state`, with a landing point: `Err` with V8's message
/// if a catastrophe stopped it (the isolate is then lost: see [`abandon`]). A panic in `f` is
/// passed on.
pub fn guarded<R, F: FnOnce() -> R>(state: &Arc<SharedState>, f: F) -> Result<R, String> {
  let depth = GUARDED.with(|g| {
    let mut g = g.borrow_mut();
    g.push(state.clone());
    g.len() - 1
  });
  let mut frame = Frame {
    f: Some(f),
    out: None,
  };
  // SAFETY: `body` matches the frame's types; a jump back lands in `ivm_guarded`, whose frame
  // is still alive, and skips only frames inside `f` (leaked, never resumed).
  let escaped =
    unsafe { ivm_guarded(body::<F, R>, &mut frame as *mut Frame<F, R> as *mut c_void) } != 0;
  GUARDED.with(|g| g.borrow_mut().truncate(depth));
  if escaped {
    let message = MESSAGE.with(|m| m.borrow_mut().take());
    return Err(message.unwrap_or_else(|| OOM.to_string()));
  }
  match frame.out {
    Some(Ok(r)) => Ok(r),
    Some(Err(panic)) => std::panic::resume_unwind(panic),
    None => Err(OOM.to_string()),
  }
}

/// Runs `f` with the memory accounting of the isolate this thread runs V8 work for (its
/// innermost guarded stretch); `None` outside any. Never panics and never blocks: callable
/// from inside V8's page allocation ([`super::pages`]).
pub fn with_innermost_memory<R>(f: impl FnOnce(&MemoryState) -> R) -> Option<R> {
  GUARDED
    .try_with(|g| {
      let g = g.try_borrow().ok()?;
      g.last().map(|state| f(&state.memory))
    })
    .ok()
    .flatten()
}

/// Whether `state`'s isolate was lost to a catastrophe.
pub fn is_lost(state: &SharedState) -> bool {
  state.memory.lost.load(Ordering::SeqCst)
}

/// Whether the isolate whose own thread this is was lost to a catastrophe.
pub fn home_lost() -> bool {
  HOME
    .try_with(|h| h.try_borrow().ok().and_then(|h| h.clone()))
    .ok()
    .flatten()
    .is_some_and(|s| is_lost(&s))
}

/// Called where control would go back into V8 code of a lost isolate after this thread let go
/// of it (a host function returning, a wait ending): jumps to the innermost landing point
/// instead (the V8 frames waiting there are abandoned); with none, the thread parks.
pub fn escape() -> ! {
  let _ = MESSAGE.try_with(|m| m.try_borrow_mut().map(|mut m| *m = Some(OOM.to_string())));
  // SAFETY: jumps to a landing point of this thread set by `guarded`; returns if none.
  unsafe { ivm_escape() };
  park_forever();
}

/// Gives up an isolate lost to a catastrophe: its lock stays held and is never released, the
/// isolate is exited on this thread if entered, and the host forgets its handle, so nobody
/// takes its lock or frees it again.
///
/// The forgotten locker keeps its share of the isolate, so the V8 isolate is never disposed.
pub fn abandon(state: &SharedState, locker: v8::Locker<'_>) {
  // SAFETY: only the address is taken.
  let raw = unsafe { locker.as_raw_isolate_ptr() };
  // SAFETY: UnsafeRawIsolatePtr is a transparent wrapper of the isolate's address.
  let ptr = unsafe { std::mem::transmute::<v8::UnsafeRawIsolatePtr, *mut c_void>(raw) };
  std::mem::forget(locker);
  // SAFETY: V8's per-thread entry stack: exiting the isolate this thread entered last.
  unsafe {
    if v8__Isolate__TryGetCurrent() == ptr {
      v8__Isolate__Exit(ptr);
    }
  }
  if let Some(host) = state.host.get().and_then(std::sync::Weak::upgrade) {
    host.forget_isolate();
  }
}

/// Marks `state`'s isolate as lost and reports it.
fn mark(state: &SharedState, message: &str) {
  if state.memory.lost.swap(true, Ordering::SeqCst) {
    return;
  }
  state.memory.exceeded.store(true, Ordering::SeqCst);
  state.disposed.store(true, Ordering::SeqCst);
  // Threads waiting to lock the isolate give up (its lock is never released).
  state.gate.lose();
  if let Some(hook) = state.on_catastrophe.get() {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| hook(message.to_string())));
  }
}

/// The failing thread's way out: to its innermost landing point, else parked (an isolate's
/// own thread), else the process aborts.
fn fail(message: String) {
  let innermost = GUARDED
    .try_with(|g| g.try_borrow().ok().and_then(|g| g.last().cloned()))
    .ok()
    .flatten();
  if let Some(state) = innermost {
    mark(&state, &message);
    let _ = MESSAGE.try_with(|m| m.try_borrow_mut().map(|mut m| *m = Some(message)));
    // SAFETY: jumps to the landing point `guarded` set for this isolate on this thread.
    unsafe { ivm_escape() };
    return;
  }
  let home = HOME
    .try_with(|h| h.try_borrow().ok().and_then(|h| h.clone()))
    .ok()
    .flatten();
  if let Some(state) = home {
    mark(&state, &message);
    park_forever();
  }
  eprintln!("\n#\n# {message}\n#\n");
}

fn park_forever() -> ! {
  loop {
    std::thread::park();
  }
}

fn text(p: *const c_char) -> String {
  if p.is_null() {
    return String::new();
  }
  // SAFETY: V8 passes NUL-terminated strings that live for the duration of the call.
  unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// V8's out-of-memory handler (per isolate). Never returns to V8: see the module docs.
///
/// # Safety
/// Called by V8 only, with a NUL-terminated location and details.
pub unsafe extern "C" fn on_oom(location: *const c_char, details: &v8::OomDetails) {
  let location = text(location);
  let detail = text(details.detail as *const c_char);
  let message = if detail.is_empty() {
    format!("{OOM}: {location}")
  } else {
    format!("{OOM}: {location} ({detail})")
  };
  fail(message);
  std::process::abort();
}

/// V8's process-wide fatal-error handler (failed internal checks). Never returns to V8.
unsafe extern "C" fn on_fatal(file: *const c_char, line: c_int, message: *const c_char) {
  let message = format!(
    "Catastrophic V8 error: {} ({}:{line})",
    text(message),
    text(file)
  );
  fail(message);
  std::process::abort();
}
