//! `Reference`: a handle to a value living in an isolate.

use crate::api::convert;
use crate::api::handle::{RemoteHandle, Slot};
use crate::api::js::{self, Failure, Raw};
use crate::api::options;
use crate::bridge::{self, Flavor};
use crate::error::{msg, Thrown};
use crate::isolate::ops::export::Out;
use crate::isolate::ops::reference::{self as ops, PropKey};
use crate::isolate::IsolateHost;
use crate::transfer::value::Value;
use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsValue};
use std::sync::Arc;

/// A reference to a value in an isolate (here: a guest value).
#[napi_derive::napi]
pub struct Reference {
  slot: Arc<Slot>,
  type_of: &'static str,
}

/// Turns a phase-2 result into a JS value on Node's thread (References become objects).
pub fn out_to_napi(
  env: sys::napi_env,
  host: &Arc<IsolateHost>,
  out: Out,
) -> Result<sys::napi_value, Failure> {
  match out {
    Out::Value(v) => convert::to_napi(env, &v),
    Out::Reference { id, type_of } => {
      let r = Reference::wrap(host.clone(), id, type_of);
      // SAFETY: Node's thread, valid env.
      Ok(unsafe { Reference::to_napi_value(env, r) }?)
    }
  }
}

/// Reads a property key: string or uint32 number, else TypeError "Invalid `key`".
pub fn prop_key(env: sys::napi_env, v: sys::napi_value) -> Result<PropKey, Failure> {
  match convert::primitive(env, v)? {
    Some(Value::String(s)) => Ok(PropKey::Name(s)),
    Some(Value::Number(n)) if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => {
      Ok(PropKey::Index(n as u32))
    }
    _ => Err(Thrown::type_error(msg::INVALID_KEY).into()),
  }
}

/// Reads a value to send into an isolate: primitives, or a clone with `copy: true`; anything
/// else is "A non-transferable value was passed".
pub fn import(env: sys::napi_env, v: sys::napi_value, copy: bool) -> Result<Value, Failure> {
  if let Some(p) = convert::primitive(env, v)? {
    return Ok(p);
  }
  if let Some(h) = crate::api::handles::from_object(env, v)? {
    return Ok(h);
  }
  if copy {
    return convert::copy(env, v);
  }
  Err(options::non_transferable())
}

fn raw(u: Option<Unknown>) -> sys::napi_value {
  u.map(|u| u.raw()).unwrap_or(std::ptr::null_mut())
}

impl Reference {
  /// A Reference object for table entry `id` of `host`.
  pub fn wrap(host: Arc<IsolateHost>, id: u32, type_of: &'static str) -> Reference {
    Reference {
      slot: Arc::new(Slot::new(RemoteHandle { host, id })),
      type_of,
    }
  }

  /// A Reference sharing `slot` with its creator (a context's `global`), so releasing either
  /// releases both.
  pub fn shared(slot: Arc<Slot>, type_of: &'static str) -> Reference {
    Reference { slot, type_of }
  }

  fn handle(&self, env: sys::napi_env) -> napi::Result<Arc<RemoteHandle>> {
    self
      .slot
      .get(msg::REFERENCE_RELEASED)
      .map_err(|t| js::throw(env, t))
  }

  fn get_impl(
    &self,
    env: Env,
    key: Unknown,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    let h = self.handle(e)?;
    let (k, accessors, t) = (|| -> Result<_, Failure> {
      let k = prop_key(e, key.raw())?;
      let o = options::object_arg(e, raw(opts), "undefined", 2)?;
      Ok((
        k,
        options::flag(e, o, "accessors")?,
        options::transfer(e, o)?,
      ))
    })()
    .map_err(|f| f.throw(e))?;
    let id = h.id;
    let host = h.host.clone();
    let v = bridge::run(
      &env,
      &h.host,
      flavor,
      Box::new(move |rt| ops::get(rt, id, k, accessors, t)),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }

  fn set_impl(
    &self,
    env: Env,
    key: Unknown,
    value: Unknown,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    let h = self.handle(e)?;
    let (k, val) = (|| -> Result<_, Failure> {
      let k = prop_key(e, key.raw())?;
      let o = options::object_arg(e, raw(opts), "undefined", 3)?;
      let t = options::transfer(e, o)?;
      Ok((k, import(e, value.raw(), t.copy)?))
    })()
    .map_err(|f| f.throw(e))?;
    let id = h.id;
    let v = bridge::run(
      &env,
      &h.host,
      flavor,
      Box::new(move |rt| ops::set(rt, id, k, val)),
      |env, _| Ok(js::boolean(env, true)?),
    )?;
    Ok(Raw(v))
  }

  fn delete_impl(&self, env: Env, key: Unknown, flavor: Flavor) -> napi::Result<Raw> {
    let e = env.raw();
    let h = self.handle(e)?;
    let k = prop_key(e, key.raw()).map_err(|f| f.throw(e))?;
    let id = h.id;
    let v = bridge::run(
      &env,
      &h.host,
      flavor,
      Box::new(move |rt| ops::delete(rt, id, k)),
      |env, _| Ok(js::boolean(env, true)?),
    )?;
    Ok(Raw(v))
  }

  fn apply_impl(
    &self,
    env: Env,
    receiver: Option<Unknown>,
    args: Option<Unknown>,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    let h = self.handle(e)?;
    let parsed = (|| -> Result<_, Failure> {
      let o = options::object_arg(e, raw(opts), "undefined", 3)?;
      let arg_opts = options::transfer_nested(e, o, "arguments")?;
      let result = options::transfer_nested(e, o, "result")?;
      let timeout = options::timeout(e, o)?;
      let recv = raw(receiver);
      let recv = if options::is_undefined(e, recv) {
        Value::Undefined
      } else {
        import(e, recv, arg_opts.copy)?
      };
      let values = crate::api::context::import_args(e, raw(args), arg_opts.copy)?;
      Ok((recv, values, timeout, result))
    })();
    let (recv, values, timeout, result) = parsed.map_err(|f| f.throw(e))?;
    let id = h.id;
    let host = h.host.clone();
    let v = bridge::run(
      &env,
      &h.host,
      flavor,
      Box::new(move |rt| ops::apply(rt, id, recv, values, timeout, result)),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }

  fn copy_impl(&self, env: Env, flavor: Flavor) -> napi::Result<Raw> {
    let h = self.handle(env.raw())?;
    let id = h.id;
    let host = h.host.clone();
    let v = bridge::run(
      &env,
      &h.host,
      flavor,
      Box::new(move |rt| ops::copy(rt, id)),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }
}

#[napi_derive::napi]
impl Reference {
  /// `new Reference(value)`: references to host values arrive with the data-model work.
  #[napi(constructor)]
  pub fn constructor(env: Env, _value: Option<Unknown>) -> napi::Result<Self> {
    Err(js::type_error(
      env.raw(),
      "`Reference` to a value of the default isolate is not supported yet",
    ))
  }

  /// `typeof` of the referenced value (`"null"` for null).
  #[napi(getter, js_name = "typeof")]
  pub fn type_of(&self, env: Env) -> napi::Result<String> {
    self.handle(env.raw())?;
    Ok(self.type_of.to_string())
  }

  /// Releases this handle; a second call throws "Reference has been released".
  #[napi]
  pub fn release(&self, env: Env) -> napi::Result<()> {
    if !self.slot.release() {
      return Err(js::error(env.raw(), msg::REFERENCE_RELEASED));
    }
    Ok(())
  }

  /// Only valid in the owning isolate; from Node this references a guest value.
  #[napi]
  pub fn deref(&self, env: Env, _options: Option<Unknown>) -> napi::Result<()> {
    self.handle(env.raw())?;
    Err(js::type_error(env.raw(), msg::CANNOT_DEREF))
  }

  /// Structured clone of the value (Promise).
  #[napi]
  pub fn copy(&self, env: Env) -> napi::Result<Raw> {
    self.copy_impl(env, Flavor::Async)
  }

  /// Structured clone of the value.
  #[napi]
  pub fn copy_sync(&self, env: Env) -> napi::Result<Raw> {
    self.copy_impl(env, Flavor::Sync)
  }

  /// Reads an own property (Promise).
  #[napi]
  pub fn get(&self, env: Env, key: Unknown, options: Option<Unknown>) -> napi::Result<Raw> {
    self.get_impl(env, key, options, Flavor::Async)
  }

  /// Reads an own property.
  #[napi]
  pub fn get_sync(&self, env: Env, key: Unknown, options: Option<Unknown>) -> napi::Result<Raw> {
    self.get_impl(env, key, options, Flavor::Sync)
  }

  /// Defines an own data property (Promise).
  #[napi]
  pub fn set(
    &self,
    env: Env,
    key: Unknown,
    value: Unknown,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.set_impl(env, key, value, options, Flavor::Async)
  }

  /// Defines an own data property.
  #[napi]
  pub fn set_sync(
    &self,
    env: Env,
    key: Unknown,
    value: Unknown,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.set_impl(env, key, value, options, Flavor::Sync)
  }

  /// Defines an own data property, ignoring the outcome.
  #[napi]
  pub fn set_ignored(
    &self,
    env: Env,
    key: Unknown,
    value: Unknown,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.set_impl(env, key, value, options, Flavor::Ignored)
  }

  /// Calls the referenced function (Promise).
  #[napi]
  pub fn apply(
    &self,
    env: Env,
    receiver: Option<Unknown>,
    args: Option<Unknown>,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.apply_impl(env, receiver, args, options, Flavor::Async)
  }

  /// Calls the referenced function synchronously.
  #[napi]
  pub fn apply_sync(
    &self,
    env: Env,
    receiver: Option<Unknown>,
    args: Option<Unknown>,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.apply_impl(env, receiver, args, options, Flavor::Sync)
  }

  /// Calls the referenced function, ignoring the outcome.
  #[napi]
  pub fn apply_ignored(
    &self,
    env: Env,
    receiver: Option<Unknown>,
    args: Option<Unknown>,
    options: Option<Unknown>,
  ) -> napi::Result<Raw> {
    self.apply_impl(env, receiver, args, options, Flavor::Ignored)
  }

  /// Deletes a property (Promise).
  #[napi]
  pub fn delete(&self, env: Env, key: Unknown) -> napi::Result<Raw> {
    self.delete_impl(env, key, Flavor::Async)
  }

  /// Deletes a property.
  #[napi]
  pub fn delete_sync(&self, env: Env, key: Unknown) -> napi::Result<Raw> {
    self.delete_impl(env, key, Flavor::Sync)
  }

  /// Deletes a property, ignoring the outcome.
  #[napi]
  pub fn delete_ignored(&self, env: Env, key: Unknown) -> napi::Result<Raw> {
    self.delete_impl(env, key, Flavor::Ignored)
  }
}
