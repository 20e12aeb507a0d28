//! One-time V8 initialisation for the whole process, and V8's foreground tasks.
//!
//! V8 is initialised on the platform's own thread, which lives as long as the process, never on
//! whichever (possibly short-lived worker) thread first loads the addon. That thread then serves
//! V8's delayed foreground tasks (see [`tasks`]).

pub mod pool;
pub mod tasks;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static INIT: Once = Once::new();

/// Set when the host runs with `--expose-gc`: guests get `gc()` too (SPEC §5).
static EXPOSE_GC: AtomicBool = AtomicBool::new(false);

/// Gives every guest context a global `gc()`, as `--expose-gc` does for Node's. Takes effect
/// only when called before V8 is initialised (V8 registers the extension then); returns
/// whether it did.
pub fn expose_gc() -> bool {
  EXPOSE_GC.store(true, Ordering::SeqCst);
  !INIT.is_completed()
}

/// Initialises V8 once per process; cheap after the first call. Any thread may call it.
pub fn ensure_initialized() {
  INIT.call_once(|| {
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    let spawned = std::thread::Builder::new()
      .name("ivm-platform".into())
      .spawn(move || {
        init_v8();
        // An isolate that lives as long as the process: V8 shares one read-only heap among
        // the isolates of its group and builds it again whenever the group's last isolate
        // goes, which made every create-after-dispose pay for it (about 20% of the cost of
        // `new Isolate()` + `dispose()`). Node's own isolate plays this part for isolated-vm.
        // It also hands V8's page pool back to the system (see [`pool`]), from any thread:
        // shared, it is locked for that.
        let anchor = v8::Isolate::new(v8::CreateParams::default());
        // SAFETY: created on this thread and entered here; it has no handles, finalizers,
        // snapshot creator or C++ heap.
        match unsafe { anchor.try_into_shared() } {
          Ok(shared) => pool::set_anchor(shared),
          Err(e) => std::mem::forget(e),
        }
        let _ = tx.send(());
        tasks::serve_delayed();
      });
    // Without the thread V8 is never initialised; recv() then fails and isolate creation
    // reports the error instead of crashing.
    if spawned.is_ok() {
      let _ = rx.recv();
    }
  });
}

fn init_v8() {
  // Node's own --max-old-space-size / --max-semi-space-size never reach this V8 (SPEC §2.10):
  // it has its own flag set, which starts from V8's defaults.
  v8::V8::set_flags_from_string("--no-freeze-flags-after-init");
  // The page pool's release (see [`pool`]) is a memory-pressure signal, on which V8 would also
  // drop the compiled WebAssembly code of every isolate in the process.
  v8::V8::set_flags_from_string("--no-flush-liftoff-code");
  if EXPOSE_GC.load(Ordering::SeqCst) {
    v8::V8::set_flags_from_string("--expose-gc");
  }
  // Unprotected: with memory protection keys, threads that do not descend from the thread that
  // initialised V8 (Node's main thread never does) would crash on their first V8 access.
  // Custom: every foreground task V8 posts (WebAssembly compilation results, Atomics.waitAsync,
  // FinalizationRegistry cleanup…) is handed to the isolate's own queue, which wakes its thread.
  let platform = v8::new_custom_platform(0, false, true, tasks::Router).make_shared();
  v8::V8::initialize_platform(platform);
  v8::V8::initialize();
}

unsafe extern "C" {
  fn v8__Isolate__TryGetCurrent() -> *mut std::ffi::c_void;
}

/// Whether this thread has no V8 isolate of ours entered, so it may take an isolate's lock.
pub fn can_lock_here() -> bool {
  // SAFETY: reads V8's per-thread current isolate; no other effect.
  unsafe { v8__Isolate__TryGetCurrent().is_null() }
}

/// The embedded V8's version string.
pub fn v8_version() -> &'static str {
  v8::V8::get_version()
}
