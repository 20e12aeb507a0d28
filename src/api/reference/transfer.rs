//! Values crossing between Node and isolates at Reference call sites: phase-3 results, keys,
//! and host values going in.

use super::Reference;
use crate::api::handle::RemoteHandle;
use crate::api::options;
use crate::bridge::convert;
use crate::bridge::host_ref;
use crate::bridge::js::{self, Failure};
use crate::isolate::ops::export::Out;
use crate::isolate::IsolateHost;
use crate::transfer::external::ExternalData;
use crate::transfer::options::TransferOptions;
use crate::transfer::value::{Handle, Value};
use napi::sys;
use std::sync::Arc;

/// Turns a phase-2 result into a JS value on Node's thread (References become objects).
pub fn out_to_napi(
  env: sys::napi_env,
  host: &Arc<IsolateHost>,
  out: Out,
) -> Result<sys::napi_value, Failure> {
  match out {
    Out::Value(v) => convert::to_napi(env, &v),
    Out::Promise(slot) => promise_of(env, slot),
    Out::Function { id, name, length } => crate::api::guest_function::new_function(
      env,
      Arc::new(RemoteHandle {
        host: host.clone(),
        id,
      }),
      &name,
      length,
      crate::isolate::flavor::Flavor::Sync,
    ),
    Out::Reference { id, type_of } => {
      let r = Reference::wrap(host.clone(), id, type_of);
      let obj = crate::api::instance::new(env, "Reference\0", r)?;
      Ok(crate::bridge::js::frozen(env, obj)?)
    }
  }
}

/// A host promise settled through `slot`; keeps Node's loop alive until then.
pub fn promise_of(
  env: sys::napi_env,
  slot: Arc<crate::transfer::settle::SettleSlot>,
) -> Result<sys::napi_value, Failure> {
  let (deferred, promise) = js::create_promise(env)?;
  let bridge = crate::bridge::env::EnvData::get(env)?.bridge.clone();
  bridge.begin(env);
  let deferred = crate::bridge::NodePtr(deferred);
  slot.wait(Box::new(move |outcome| {
    let b = bridge.clone();
    bridge.post(Box::new(move |env| {
      b.end(env);
      match outcome
        .map_err(Failure::from)
        .and_then(|v| convert::to_napi(env, &v))
      {
        Ok(v) => js::resolve(env, deferred.get(), v),
        Err(f) => {
          let e = f.into_value(env, None);
          js::reject(env, deferred.get(), e);
        }
      }
    }));
  }));
  Ok(promise)
}

/// Reads a value to send into an isolate (an argument, a receiver, a `set` value) under
/// transfer options `t` (SPEC §2.2): `reference` / `externalCopy` / `copy`, then handles and
/// primitives; anything else is "A non-transferable value was passed".
pub fn import(
  env: sys::napi_env,
  v: sys::napi_value,
  t: TransferOptions,
) -> Result<Value, Failure> {
  if t.promise {
    return promise_in(
      env,
      v,
      TransferOptions {
        promise: false,
        ..t
      },
    );
  }
  if t.reference {
    return Ok(Value::Handle(Handle::HostReference(
      host_ref::new_host_ref(env, v)?,
    )));
  }
  if t.external_copy {
    return Ok(Value::Handle(Handle::ExternalCopy(ExternalData::new(
      convert::copy(env, v)?,
    ))));
  }
  if let Some(p) = convert::primitive(env, v)? {
    return Ok(p);
  }
  if let Some(h) = crate::api::handles::from_object(env, v, !t.copy)? {
    return Ok(h);
  }
  if t.copy {
    return convert::copy(env, v);
  }
  Err(options::non_transferable())
}

/// A value sent under `promise: true` (SPEC §2.2): a promise settled with the host promise's
/// outcome, or at once with a plain value; the value travels under the remaining options `t`.
fn promise_in(
  env: sys::napi_env,
  v: sys::napi_value,
  t: TransferOptions,
) -> Result<Value, Failure> {
  let plain = || import(env, v, t);
  Ok(crate::bridge::await_host::promise_handle(
    env, v, import, t, plain,
  ))
}
