//! The JavaScript API on Node's thread: one file per class, and the ivm objects at the
//! boundary (`handles`). Only this module and `bridge` touch Node-API.

// napi_env / napi_value are opaque handles that only Node-API itself dereferences; taking them
// as arguments in safe functions is the normal shape of a Node-API wrapper.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod callback;
pub mod context;
pub mod external_copy;
pub mod fast;
pub mod guest_function;
pub mod handle;
pub mod handles;
mod init;
pub mod instance;
pub mod isolate;
pub mod lib_object;
pub mod module;
pub mod options;
pub mod panic_hook;
pub mod reference;
pub mod script;
