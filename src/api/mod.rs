//! The JavaScript API on Node's thread: one file per class, plus conversions and helpers.
//! Only this module and `bridge` touch Node-API.

pub mod context;
pub mod convert;
pub mod env;
pub mod handle;
pub mod isolate;
pub mod js;
pub mod lib_object;
pub mod options;
pub mod reference;
pub mod script;
