//! One-time V8 initialisation for the whole process.
//!
//! V8 is initialised on the watchdog thread, which lives as long as the process, never on
//! whichever (possibly short-lived worker) thread first loads the addon.

use std::sync::Once;

static INIT: Once = Once::new();

/// Initialises V8 once per process; cheap after the first call. Any thread may call it.
pub fn ensure_initialized() {
  INIT.call_once(|| {
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    crate::isolate::watchdog::start(move || {
      init_v8();
      let _ = tx.send(());
    });
    let _ = rx.recv();
  });
}

fn init_v8() {
  // Node's own --max-old-space-size / --max-semi-space-size never reach this V8 (SPEC §2.10):
  // it has its own flag set, which starts from V8's defaults.
  v8::V8::set_flags_from_string("--no-freeze-flags-after-init");
  let platform = v8::new_default_platform(0, false).make_shared();
  v8::V8::initialize_platform(platform);
  v8::V8::initialize();
}

/// The embedded V8's version string.
pub fn v8_version() -> &'static str {
  v8::V8::get_version()
}
