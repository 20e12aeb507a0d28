//! What runs when the addon loads, before Node-API registers the module: the faces install the
//! functions that the layers below them call back into (they cannot name the faces).
//!
//! Like napi-rs's own registrations it is left out of unit-test builds, which do not link
//! against Node-API (nothing there reaches the faces).

/// Installs the API face's handle functions into `bridge` and the guest face's into `transfer`.
#[cfg(not(test))]
#[napi_derive::module_init]
fn init() {
  crate::bridge::node_handles::install(crate::bridge::node_handles::NodeHandles {
    from_object: super::handles::from_object,
    to_object: super::handles::to_object,
  });
  crate::guest::install();
}
