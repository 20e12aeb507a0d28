//! Phase-2 operations: the V8 work behind each API method. Isolate thread only.

pub mod code_cache;
pub mod context;
pub mod export;
pub mod heap;
pub mod module;
pub mod promise_export;
pub mod property;
pub mod reference;
pub mod register;
pub mod script;
