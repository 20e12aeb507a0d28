//! Moving values between isolates: the owned value tree and its V8 side.
//!
//! The napi side lives in `bridge::convert` (only `api/` and `bridge/` touch napi).

pub mod external;
pub mod guest_handles;
pub mod handle;
pub mod long_string;
pub mod memory;
pub mod once;
pub mod options;
pub mod settle;
pub mod shared;
pub mod thrown;
pub mod v8_in;
pub mod v8_out;
pub mod value;
pub mod wire;
