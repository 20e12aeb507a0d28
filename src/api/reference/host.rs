//! Operations on References to host values from their own environment, run directly on
//! Node's thread with the same implementation guests reach through the bridge
//! (`bridge::host_ref`): keys may be symbols here (the value lives in this heap); `set` values,
//! apply arguments and results go through the transfer rules as they would into any isolate.

use super::Reference;
use crate::bridge::convert;
use crate::bridge::host_ref::{self, HostRef};
use crate::bridge::js::{self, Failure, Raw};
use crate::bridge::Flavor;
use crate::isolate::ref_op::RefOp;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use napi::sys;

/// Shapes a host-side outcome per flavour: the value, a settled promise, or `undefined`.
fn shape(
  env: sys::napi_env,
  out: Result<sys::napi_value, Failure>,
  flavor: Flavor,
) -> napi::Result<Raw> {
  match flavor {
    Flavor::Sync => js::ret(env, out),
    Flavor::Ignored => Ok(Raw(js::undefined(env)?)),
    Flavor::Async => {
      let (d, p) = js::create_promise(env)?;
      match out {
        Ok(v) => js::resolve(env, d, v),
        Err(f) => {
          let e = f.into_value(env, None);
          js::reject(env, d, e);
        }
      }
      Ok(Raw(p))
    }
  }
}

/// The value arriving back in this environment (as it would in an isolate).
fn arrive(env: sys::napi_env, out: Result<Value, Thrown>) -> Result<sys::napi_value, Failure> {
  out
    .map_err(Failure::from)
    .and_then(|v| convert::to_napi(env, &v))
}

/// A host operation: what to do with the host value once the arguments are read.
pub(super) enum Host {
  /// An operation a guest could ask for too (apply, copy).
  Op(RefOp),
  /// `get(key, { accessors, ...transfer })` with the napi key.
  Get(sys::napi_value, crate::isolate::options::GetOptions),
  /// `set(key, value)`, the value already through the transfer options.
  Set(sys::napi_value, sys::napi_value),
  /// `delete(key)`.
  Delete(sys::napi_value),
}

impl Reference {
  /// Runs `op` on a host target right here, on Node's thread, shaping the result per flavour.
  pub(super) fn host_op(
    &self,
    env: sys::napi_env,
    target: &HostRef,
    op: Host,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let id = target.id;
    let out = match op {
      Host::Op(op) => arrive(env, host_ref::run_op(env, id, op)),
      Host::Get(key, o) => arrive(
        env,
        host_ref::run_get(env, id, key, o.accessors, target.inherit, o.transfer),
      ),
      Host::Set(key, value) => arrive(env, host_ref::run_set(env, id, key, value)),
      Host::Delete(key) => arrive(env, host_ref::run_delete(env, id, key)),
    };
    shape(env, out, flavor)
  }
}
