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
