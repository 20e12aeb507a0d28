//! The single-use token `derefInto()` returns.

use super::{HostRef, RemoteHandle};
use crate::bridge::js;
use crate::error::msg;
use crate::isolate::handle::Handle;
use crate::transfer::thrown::Thrown;
use napi::Env;
use std::sync::Arc;

/// What a `derefInto()` token points at.
pub enum DerefTarget {
  /// A value in a guest isolate.
  Guest(Arc<RemoteHandle>),
  /// A value of a Node environment.
  Host(Arc<HostRef>),
}

/// The token `derefInto()` returns (single use).
#[napi_derive::napi(js_name = "Dereference")]
pub struct Dereference {
  target: parking_lot::Mutex<Option<DerefTarget>>,
}

impl Dereference {
  /// A token for `target`.
  pub fn new(target: DerefTarget) -> Dereference {
    Dereference {
      target: parking_lot::Mutex::new(Some(target)),
    }
  }

  /// The handle it stands for when transferred into an isolate (single use).
  pub fn take_handle(&self) -> Result<Handle, Thrown> {
    let target =
      self.target.lock().take().ok_or_else(|| {
        Thrown::error("The return value of `derefInto()` should only be used once")
      })?;
    Ok(match target {
      DerefTarget::Guest(h) => Handle::DerefInto(h),
      // A host value becomes itself only in its own environment.
      DerefTarget::Host(h) => Handle::HostDerefInto(h),
    })
  }
}

#[napi_derive::napi]
impl Dereference {
  /// Tokens come only from `derefInto()`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(env.raw(), &msg::private_ctor("Dereference")))
  }
}
