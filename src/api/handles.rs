//! ivm objects at the boundary on Node's thread: recognising them in values leaving Node (they
//! travel as handles) and materialising handles arriving in Node. The bridge's conversions call
//! these through `bridge::node_handles`, where `init` installs them when the addon loads.

use crate::api::external_copy::{token_handle, ExternalCopy, ExternalCopyInto};
use crate::api::instance;
use crate::bridge::js::Failure;
use crate::isolate::handle::Handle;
use crate::isolate::remote::IsolateScript;
use crate::transfer::external::ExternalData;
use crate::transfer::value::Value;
use napi::bindgen_prelude::{ClassInstance, FromNapiValue};
use napi::sys;
use std::sync::Arc;

fn instance<'a, T: 'a + napi::bindgen_prelude::MaybeTypeTag>(
  env: sys::napi_env,
  v: sys::napi_value,
) -> Option<ClassInstance<'a, T>> {
  // SAFETY: from_napi_value validates the instance's type tag before unwrapping.
  unsafe { ClassInstance::<T>::from_napi_value(env, v) }.ok()
}

/// The data of an ExternalCopy object (`None` for anything else, or a released copy).
pub fn external_copy_of(env: sys::napi_env, v: sys::napi_value) -> Option<Arc<ExternalData>> {
  instance::<ExternalCopy>(env, v).and_then(|c| c.data().ok())
}

/// The handle an ivm object stands for, or `None` for any other object. Plain functions become
/// synchronous callbacks when `functions` is set (SPEC §2.2 rule 2; not under `copy: true`).
pub fn from_object(
  env: sys::napi_env,
  v: sys::napi_value,
  functions: bool,
) -> Result<Option<Value>, Failure> {
  if is_library(env, v) {
    return Ok(Some(Value::Handle(Handle::Library)));
  }
  if let Some(token) = instance::<ExternalCopyInto>(env, v) {
    return Ok(Some(Value::Handle(token_handle(&token)?)));
  }
  if let Some(copy) = instance::<ExternalCopy>(env, v) {
    return Ok(Some(Value::Handle(Handle::ExternalCopy(copy.data()?))));
  }
  if let Some(token) = instance::<crate::api::reference::Dereference>(env, v) {
    return Ok(Some(Value::Handle(token.take_handle()?)));
  }
  if let Some(cb) = instance::<crate::api::callback::Callback>(env, v) {
    return Ok(Some(Value::Handle(Handle::HostFunction(cb.handle.clone()))));
  }
  if functions && crate::bridge::js::type_of(env, v) == sys::ValueType::napi_function {
    let h = crate::api::callback::handle_for(env, v, crate::isolate::flavor::Flavor::Sync, false)?;
    return Ok(Some(Value::Handle(Handle::HostFunction(h))));
  }
  if let Some(i) = instance::<crate::api::isolate::Isolate>(env, v) {
    return Ok(Some(Value::Handle(Handle::Isolate(i.host.clone()))));
  }
  if let Some(c) = instance::<crate::api::context::Context>(env, v) {
    return Ok(Some(Value::Handle(Handle::Context(c.transfer()?))));
  }
  if let Some(s) = instance::<crate::api::script::Script>(env, v) {
    let handle = s.slot.get(crate::error::msg::SCRIPT_RELEASED)?;
    return Ok(Some(Value::Handle(Handle::Script(IsolateScript {
      handle,
      fresh: None,
    }))));
  }
  if let Some(m) = instance::<crate::api::module::Module>(env, v) {
    return Ok(Some(Value::Handle(Handle::Module(m.transfer()?))));
  }
  if let Some(r) = instance::<crate::api::reference::Reference>(env, v) {
    return match r.host_target()? {
      Some(target) => Ok(Some(Value::Handle(Handle::HostReference(target)))),
      None => Ok(Some(Value::Handle(r.isolate_target()?.into_handle()))),
    };
  }
  Ok(None)
}

/// Whether `v` is the library object itself.
fn is_library(env: sys::napi_env, v: sys::napi_value) -> bool {
  let Ok(data) = crate::bridge::env::EnvData::get(env) else {
    return false;
  };
  let Some(r) = data.library() else {
    return false;
  };
  let mut lib = std::ptr::null_mut();
  let mut equal = false;
  // SAFETY: the reference belongs to this env; both handles are valid.
  unsafe {
    sys::napi_get_reference_value(env, r, &mut lib);
    !lib.is_null()
      && sys::napi_strict_equals(env, v, lib, &mut equal) == sys::Status::napi_ok
      && equal
  }
}

/// Materialises a handle arriving in Node.
pub fn to_object(env: sys::napi_env, h: &Handle) -> Result<sys::napi_value, Failure> {
  match h {
    Handle::ExternalCopy(data) => {
      let v = instance::new(env, "ExternalCopy\0", ExternalCopy::wrap(data.clone()))?;
      Ok(crate::bridge::js::frozen(env, v)?)
    }
    Handle::HostReference(target) => {
      let r = crate::api::reference::Reference::to_host(target.clone());
      Ok(crate::bridge::js::frozen(
        env,
        instance::new(env, "Reference\0", r)?,
      )?)
    }
    Handle::CopyInto(data, transfer_in) => {
      crate::bridge::convert::materialize(env, data, *transfer_in)
    }
    Handle::Reference(r) => {
      let slot = Arc::new(crate::api::handle::Slot::from_arc(r.handle.clone()));
      let r = crate::api::reference::Reference::shared(slot, r.type_of);
      Ok(crate::bridge::js::frozen(
        env,
        instance::new(env, "Reference\0", r)?,
      )?)
    }
    Handle::Library => {
      if let Some(r) = crate::bridge::env::EnvData::get(env)?.library() {
        let mut lib = std::ptr::null_mut();
        // SAFETY: the reference belongs to this env.
        crate::bridge::js::check(unsafe { sys::napi_get_reference_value(env, r, &mut lib) })?;
        if !lib.is_null() {
          return Ok(lib);
        }
      }
      Err(non_transferable())
    }
    Handle::Isolate(host) => {
      let i = crate::api::isolate::Isolate { host: host.clone() };
      Ok(crate::bridge::js::frozen(
        env,
        instance::new(env, "Isolate\0", i)?,
      )?)
    }
    Handle::Context(c) => {
      let c = crate::api::context::Context::from_transfer(c);
      Ok(crate::bridge::js::frozen(
        env,
        instance::new(env, "Context\0", c)?,
      )?)
    }
    Handle::Script(s) => {
      let script = crate::api::script::Script {
        host: s.handle.host.clone(),
        slot: crate::api::handle::Slot::from_arc(s.handle.clone()),
      };
      let obj = instance::new(env, "Script\0", script)?;
      with_fresh(env, obj, &s.fresh)
    }
    Handle::Module(m) => {
      let module = crate::api::module::Module::from_transfer(m);
      let obj = instance::new(env, "Module\0", module)?;
      with_fresh(env, obj, &m.info.fresh)
    }
    Handle::Function(f) => crate::api::guest_function::new_function(
      env,
      f.target.handle.clone(),
      &f.name,
      f.length,
      f.mode,
    ),
    Handle::SharedMemory(mem) => shared_memory(env, mem),
    Handle::Promise(slot) => crate::api::reference::promise_of(env, slot.clone()),
    Handle::HostFunction(cb) => {
      // A function of this environment comes back as itself.
      let data = crate::bridge::env::EnvData::get(env)?;
      if data.bridge_key() == cb.target.env_key() {
        if let Some(v) = data.host_value(env, cb.target.id) {
          return Ok(v);
        }
      }
      Err(non_transferable())
    }
    Handle::HostDerefInto(target) => {
      let data = crate::bridge::env::EnvData::get(env)?;
      if data.bridge_key() == target.env_key() {
        if let Some(v) = data.host_value(env, target.id) {
          return Ok(v);
        }
        return Err(
          crate::transfer::thrown::Thrown::error(crate::error::msg::REFERENCE_RELEASED).into(),
        );
      }
      Err(crate::transfer::thrown::Thrown::type_error(crate::guest::CANNOT_DEREF_INTO).into())
    }
    Handle::DerefInto(_) => {
      Err(crate::transfer::thrown::Thrown::type_error(crate::guest::CANNOT_DEREF_INTO).into())
    }
  }
}

/// "A non-transferable value was passed": a handle with no form in this environment.
/// Sets the compile's cache properties a fresh handle carries (`cachedData`,
/// `cachedDataRejected`) on its first object. Script and Module objects are not frozen (as in
/// isolated-vm 5.0.4, unlike its other handle objects).
fn with_fresh(
  env: sys::napi_env,
  obj: sys::napi_value,
  fresh: &Option<Arc<crate::isolate::remote::Fresh>>,
) -> Result<sys::napi_value, Failure> {
  for (name, value) in crate::isolate::remote::Fresh::take(fresh) {
    let v = crate::bridge::convert::to_napi(env, &value)?;
    crate::bridge::js::set_named(env, obj, name, v)?;
  }
  Ok(obj)
}

fn non_transferable() -> Failure {
  crate::transfer::thrown::Thrown::type_error(crate::error::msg::NON_TRANSFERABLE).into()
}

/// A SharedArrayBuffer arriving in Node: Node's own buffer if it came from this environment.
/// Node-API cannot make a SharedArrayBuffer over other memory, so one created inside an isolate
/// cannot be shared with Node.
fn shared_memory(
  env: sys::napi_env,
  mem: &crate::transfer::shared::SharedMemory,
) -> Result<sys::napi_value, Failure> {
  if let crate::transfer::shared::Owner::Node { env_key, id, .. } = &mem.owner {
    let data = crate::bridge::env::EnvData::get(env)?;
    if data.bridge_key() == *env_key {
      if let Some(v) = data.host_value(env, *id) {
        return Ok(v);
      }
    }
  }
  Err(crate::transfer::thrown::Thrown::type_error(crate::error::msg::FOREIGN_SAB).into())
}
