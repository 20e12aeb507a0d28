//! isolated-vm-rs: isolated-vm's API as a Node-API addon that embeds its own V8.
//!
//! See ARCHITECTURE.md for the threads, the three-phase task and the bridge.

pub mod alloc;
pub mod api;
pub mod bridge;
pub mod error;
pub mod guest;
pub mod ids;
pub mod isolate;
pub mod platform;
pub mod transfer;
pub mod unwind;

/// Rust allocations: mimalloc for small blocks, the C library's malloc for big ones, a
/// huge-page mapping each for huge ones (see [`alloc`]). V8's and Node's own allocations, and
/// V8 ArrayBuffer memory, are not made here.
#[global_allocator]
static GLOBAL: alloc::Hybrid = alloc::Hybrid;
