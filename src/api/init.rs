//! What runs when the addon loads, before Node-API registers the module: the faces install the
//! functions that the layers below them call back into (they cannot name the faces).
//!
//! Like napi-rs's own registrations it is left out of unit-test builds, which do not link
//! against Node-API (nothing there reaches the faces).

/// Installs the guest face's handle functions into `transfer`.
#[cfg(not(test))]
#[napi_derive::module_init]
fn init() {
  crate::guest::install();
}
