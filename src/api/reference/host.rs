//! Operations on References to host values, run directly on Node's thread.

use super::{key_value, Reference};
use crate::bridge::convert;
use crate::bridge::host_ref::{self, HostRef};
use crate::bridge::js::{self, Failure, Raw};
use crate::bridge::Flavor;
use crate::isolate::host_op::HostOp;
use crate::isolate::ops::reference::PropKey;
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

impl Reference {
  /// Runs `op` on a host target right here, on Node's thread, shaping the result per flavour.
  pub(super) fn host_op(
    &self,
    env: sys::napi_env,
    target: &HostRef,
    op: HostOp,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let out = host_ref::run_op(env, target.id, op)
      .map_err(Failure::from)
      .and_then(|v| convert::to_napi(env, &v));
    shape(env, out, flavor)
  }

  /// `set` on a host value from its own environment: the value is stored as is.
  pub(super) fn host_set(
    &self,
    env: sys::napi_env,
    target: &HostRef,
    k: PropKey,
    value: sys::napi_value,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let out = (|| -> Result<sys::napi_value, Failure> {
      let obj = self.host_value(env, target)?;
      let key = convert::to_napi(env, &key_value(k))?;
      convert::call_helper(env, "setOwn", &[obj, key, value])
    })();
    shape(env, out, flavor)
  }
}
