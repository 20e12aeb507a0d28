//! The Node-API version this module is loaded as.
//!
//! Node reads it from `node_api_module_get_api_version_v1` when it loads the module (a module
//! without the symbol is version 8). "Experimental" is the version under which Node runs a
//! finalizer inside the garbage collection that collects its object, rather than on a later
//! turn of the event loop: an unreferenced `Isolate`'s memory is then freed by the `gc()` that
//! collects it, as in isolated-vm. Every finalizer of this module is written for that: it frees
//! native memory and posts work to other threads, and calls nothing that may run JavaScript or
//! allocate on Node's heap (see `ARCHITECTURE.md`, "Lifetimes").

/// Node-API's `NAPI_VERSION_EXPERIMENTAL`.
pub const EXPERIMENTAL: i32 = i32::MAX;

/// The module's Node-API version, asked for by Node when it loads the module.
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
  EXPERIMENTAL
}
