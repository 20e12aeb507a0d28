//! isolated-vm-rs: isolated-vm's API as a Node-API addon that embeds its own V8.
//!
//! See ARCHITECTURE.md for the threads, the three-phase task and the bridge.

pub mod api;
pub mod bridge;
pub mod error;
pub mod guest;
pub mod isolate;
pub mod platform;
pub mod transfer;

/// Rust allocations use mimalloc: values and jobs are allocated on one thread and freed on
/// another all the time, and glibc's malloc then contends for arena locks (a futex sleep and
/// wake-up per call); mimalloc frees across threads without a lock. V8's and Node's own
/// allocations, and ArrayBuffer memory, are not affected.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
