//! Guest isolates: one OS thread each, a FIFO job queue, limits and the watchdog.
//!
//! [`IsolateHost`] is the thread-safe face of an isolate that API objects hold (`Arc`). The
//! [`Runtime`] lives on the isolate's thread only and owns the V8 isolate and every V8 handle.

pub mod catastrophe;
pub mod clock;
pub mod codegen;
pub mod collect;
pub mod flavor;
pub mod gate;
pub mod handle;
pub mod host_ref;
pub mod inline;
pub mod limits;
pub mod ops;
pub mod options;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub mod pages;
pub mod ref_op;
pub mod remote;
pub mod runner;
pub mod runtime;
pub mod spin;
pub mod thread;
pub mod watchdog;

pub use runtime::Runtime;
pub use thread::{IsolateHost, IsolateOptions, Job};
