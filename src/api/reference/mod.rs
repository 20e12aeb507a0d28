//! `Reference`: a handle to a value living in an isolate.

use crate::api::handle::{RemoteHandle, Slot};
use crate::api::options;
use crate::bridge::host_ref::{self, HostRef};
use crate::bridge::js::{self, Failure, Raw};
use crate::isolate::ref_op::RefOp;
use crate::isolate::runner::holding;

mod dereference;
mod host;
mod transfer;

use crate::bridge::{self, Flavor};
use crate::error::msg;
use crate::isolate::ops::reference as ops;
use crate::isolate::options::{ApplyOptions, GetOptions, ReferenceOptions, ReleaseOptions};
use crate::isolate::IsolateHost;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
pub use dereference::{DerefTarget, Dereference};
use host::Host;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};
use std::sync::Arc;
pub use transfer::{import, out_to_napi, promise_of};

/// A reference to a value in an isolate (here: a guest value).
#[napi_derive::napi]
pub struct Reference {
  /// Target in a guest isolate (empty for host values).
  slot: Arc<Slot>,
  /// Target in a Node environment (for `new Reference(value)` on the host).
  host: parking_lot::Mutex<Option<Arc<HostRef>>>,
  is_host: bool,
  type_of: &'static str,
}

impl Drop for Reference {
  fn drop(&mut self) {
    crate::api::fast::forget(&*self);
  }
}

fn raw(u: Option<Unknown>) -> sys::napi_value {
  u.map(|u| u.raw()).unwrap_or(std::ptr::null_mut())
}

impl Reference {
  /// A Reference object for table entry `id` of `host`.
  pub fn wrap(host: Arc<IsolateHost>, id: u32, type_of: &'static str) -> Reference {
    Reference {
      slot: Arc::new(Slot::new(RemoteHandle { host, id })),
      host: parking_lot::Mutex::new(None),
      is_host: false,
      type_of,
    }
  }

  /// A Reference to a host value.
  pub fn to_host(target: Arc<HostRef>) -> Reference {
    Reference {
      slot: Arc::new(Slot::empty()),
      type_of: target.type_of,
      host: parking_lot::Mutex::new(Some(target)),
      is_host: true,
    }
  }

  /// The host target, `None` for guest targets, or "Reference has been released".
  pub fn host_target(&self) -> Result<Option<Arc<HostRef>>, Thrown> {
    if !self.is_host {
      return Ok(None);
    }
    self
      .host
      .lock()
      .clone()
      .map(Some)
      .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))
  }

  /// The guest target as a transfer handle, or "Reference has been released".
  pub fn isolate_target(&self) -> Result<crate::isolate::remote::IsolateRef, Thrown> {
    Ok(crate::isolate::remote::IsolateRef {
      handle: self.slot.get(msg::REFERENCE_RELEASED)?,
      type_of: self.type_of,
    })
  }

  pub(super) fn host_value(
    &self,
    env: sys::napi_env,
    target: &HostRef,
  ) -> Result<sys::napi_value, Failure> {
    crate::bridge::env::EnvData::get(env)?
      .host_value(env, target.id)
      .ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED).into())
  }

  /// A Reference sharing `slot` with its creator (a context's `global`), so releasing either
  /// releases both.
  pub fn shared(slot: Arc<Slot>, type_of: &'static str) -> Reference {
    Reference {
      slot,
      host: parking_lot::Mutex::new(None),
      is_host: false,
      type_of,
    }
  }

  fn handle(&self, env: sys::napi_env) -> napi::Result<Arc<RemoteHandle>> {
    self
      .slot
      .get(msg::REFERENCE_RELEASED)
      .map_err(|t| js::throw(env, t))
  }

  /// This Reference's target, or "Reference has been released" (checked before the
  /// arguments, as in the guest face).
  fn target(&self, env: sys::napi_env) -> napi::Result<Target> {
    match self.host_target().map_err(|t| js::throw(env, t))? {
      Some(t) => Ok(Target::Host(t)),
      None => self.handle(env).map(Target::Isolate),
    }
  }

  /// Runs `op` on the isolate's value behind `handle` (the engine's one dispatch of Reference
  /// operations, which guests reach through the same [`RefOp`]).
  fn perform(
    env: Env,
    handle: &Arc<RemoteHandle>,
    op: RefOp,
    timeout: u32,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let id = handle.id;
    let host = handle.host.clone();
    let v = bridge::run(
      &env,
      &handle.host,
      flavor,
      holding(handle.clone(), move |rt| ops::perform(rt, id, op, timeout)),
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }

  pub(crate) fn get_impl(
    &self,
    env: Env,
    key: Unknown,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    options::signature(e, raw(opts), 2, None).map_err(|f| f.throw(e))?;
    let target = self.target(e)?;
    let parsed = (|| -> Result<_, Failure> {
      let kind = options::key_kind(e, key.raw())?;
      Ok((kind, options::method::<GetOptions>(e, raw(opts), 2)?))
    })();
    let (kind, o) = parsed.map_err(|f| f.throw(e))?;
    match target {
      Target::Host(t) => self.host_op(e, &t, Host::Get(key.raw(), o), flavor),
      Target::Isolate(h) => {
        let key = options::key_value(e, key.raw(), kind).map_err(|f| f.throw(e))?;
        let op = RefOp::Get {
          key,
          accessors: o.accessors,
          inherit: false,
          result: o.transfer,
        };
        Self::perform(env, &h, op, 0, flavor)
      }
    }
  }

  pub(crate) fn set_impl(
    &self,
    env: Env,
    key: Unknown,
    value: Unknown,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    options::signature(e, raw(opts), 3, None).map_err(|f| f.throw(e))?;
    let target = self.target(e)?;
    let parsed = (|| -> Result<_, Failure> {
      let kind = options::key_kind(e, key.raw())?;
      let t = options::method::<TransferOptions>(e, raw(opts), 3)?;
      // The value goes through the transfer rules even when it stays in this heap, as in
      // isolated-vm: an object without options is "A non-transferable value was passed".
      Ok((kind, import(e, value.raw(), t)?))
    })();
    let (kind, val) = parsed.map_err(|f| f.throw(e))?;
    match target {
      Target::Host(t) => {
        let val = crate::bridge::convert::to_napi(e, &val).map_err(|f| f.throw(e))?;
        self.host_op(e, &t, Host::Set(key.raw(), val), flavor)
      }
      Target::Isolate(h) => {
        let key = options::key_value(e, key.raw(), kind).map_err(|f| f.throw(e))?;
        Self::perform(env, &h, RefOp::Set { key, value: val }, 0, flavor)
      }
    }
  }

  fn delete_impl(&self, env: Env, key: Unknown, flavor: Flavor) -> napi::Result<Raw> {
    let e = env.raw();
    let target = self.target(e)?;
    let kind = options::key_kind(e, key.raw()).map_err(|f| f.throw(e))?;
    match target {
      Target::Host(t) => self.host_op(e, &t, Host::Delete(key.raw()), flavor),
      Target::Isolate(h) => {
        let key = options::key_value(e, key.raw(), kind).map_err(|f| f.throw(e))?;
        Self::perform(env, &h, RefOp::Delete { key }, 0, flavor)
      }
    }
  }

  pub(crate) fn apply_impl(
    &self,
    env: Env,
    receiver: Unknown,
    args: Option<Unknown>,
    spread: &[sys::napi_value],
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    options::signature(e, raw(opts), 3, Some(raw(args))).map_err(|f| f.throw(e))?;
    let target = self.target(e)?;
    let parsed = (|| -> Result<_, Failure> {
      let o = options::method::<ApplyOptions>(e, raw(opts), 3)?;
      // `null` is passed on as it is (only `undefined` is "no receiver").
      let recv = receiver.raw();
      let recv = if options::is_undefined(e, recv) {
        Value::Undefined
      } else {
        import(e, recv, o.arguments)?
      };
      let values = crate::api::context::import_args_spread(e, raw(args), spread, o.arguments)?;
      Ok((recv, values, o.timeout, o.result))
    })();
    let (recv, values, timeout, result) = parsed.map_err(|f| f.throw(e))?;
    let op = RefOp::Apply {
      receiver: recv,
      args: values,
      result,
    };
    match target {
      Target::Host(t) => self.host_op(e, &t, Host::Op(op), flavor),
      Target::Isolate(h) => Self::perform(env, &h, op, timeout, flavor),
    }
  }

  fn copy_impl(&self, env: Env, flavor: Flavor) -> napi::Result<Raw> {
    let e = env.raw();
    match self.target(e)? {
      Target::Host(t) => self.host_op(e, &t, Host::Op(RefOp::Copy), flavor),
      Target::Isolate(h) => Self::perform(env, &h, RefOp::Copy, 0, flavor),
    }
  }
}

/// What a Reference refers to: a value of Node's heap, or a value of an isolate.
enum Target {
  /// A host value (`new Reference(value)` on the host).
  Host(Arc<HostRef>),
  /// A value in an isolate's reference table.
  Isolate(Arc<RemoteHandle>),
}

impl Reference {
  /// `new Reference(value, { unsafeInherit })`, as the factory that `index.js` constructs with
  /// calls it (`api/fast.rs`).
  pub fn create(env: Env, value: Unknown, options: Option<Unknown>) -> napi::Result<Self> {
    let e = env.raw();
    let o: ReferenceOptions =
      options::parse(e, raw(options), "Reference", 2).map_err(|f| f.throw(e))?;
    let target = host_ref::new_host_ref_with(e, value.raw(), o.unsafe_inherit)?;
    Ok(Reference::to_host(target))
  }
}

#[napi_derive::napi]
impl Reference {
  /// The registered class's own constructor, which `index.js` never exposes: objects are made
  /// by the factory (their finalizers must not be napi-rs's, which delete a Node-API reference
  /// and so may not run inside a garbage collection; see `bridge/api_version.rs`).
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(env.raw(), &msg::private_ctor("Reference")))
  }

  /// `typeof` of the referenced value (`"null"` for null).
  #[napi(getter, js_name = "typeof", catch_unwind)]
  pub fn type_of(&self, env: Env) -> napi::Result<String> {
    if self.is_host {
      self.host_target().map_err(|t| js::throw(env.raw(), t))?;
      return Ok(self.type_of.to_string());
    }
    self.handle(env.raw())?;
    Ok(self.type_of.to_string())
  }

  /// Releases this handle; a second call throws "Reference has been released".
  #[napi(catch_unwind)]
  pub fn release(&self, env: Env) -> napi::Result<()> {
    if self.is_host {
      if self.host.lock().take().is_none() {
        return Err(js::error(env.raw(), msg::REFERENCE_RELEASED));
      }
      return Ok(());
    }
    if !self.slot.release() {
      return Err(js::error(env.raw(), msg::REFERENCE_RELEASED));
    }
    Ok(())
  }

  /// Only valid in the owning isolate; from Node this references a guest value.
  #[napi(catch_unwind)]
  pub fn deref(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    let e = env.raw();
    let out = (|| -> Result<_, Failure> {
      let o = options::method::<ReleaseOptions>(e, raw(options), 1)?;
      let Some(t) = self.host_target()? else {
        self.slot.get(msg::REFERENCE_RELEASED)?;
        return Err(Thrown::type_error(msg::CANNOT_DEREF).into());
      };
      let v = self.host_value(e, &t)?;
      if o.release {
        self.host.lock().take();
      }
      Ok(v)
    })();
    js::ret(e, out)
  }

  /// Structured clone of the value (Promise).
  #[napi(catch_unwind)]
  pub fn copy(&self, env: Env) -> napi::Result<Raw> {
    js::rejecting(env.raw(), self.copy_impl(env, Flavor::Async))
  }

  /// Structured clone of the value.
  #[napi(catch_unwind)]
  pub fn copy_sync(&self, env: Env) -> napi::Result<Raw> {
    self.copy_impl(env, Flavor::Sync)
  }

  /// A single-use token that becomes the referenced value when transferred into the isolate
  /// that owns it (`{ release }` releases this Reference).
  #[napi(catch_unwind)]
  pub fn deref_into(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    let e = env.raw();
    let out = (|| -> Result<_, Failure> {
      let o = options::method::<ReleaseOptions>(e, raw(options), 1)?;
      let token = match self.host_target()? {
        Some(t) => Dereference::new(DerefTarget::Host(t)),
        None => {
          let h = self.slot.get(msg::REFERENCE_RELEASED)?;
          Dereference::new(DerefTarget::Guest(h))
        }
      };
      if o.release {
        if self.is_host {
          self.host.lock().take();
        } else {
          self.slot.release();
        }
      }
      let object = crate::api::instance::new(e, "Dereference\0", token)?;
      Ok(crate::bridge::js::frozen(e, object)?)
    })();
    js::ret(e, out)
  }

  /// Only for guest code running asynchronously; from Node it always throws (SPEC §2.6).
  #[napi(catch_unwind)]
  pub fn apply_sync_promise(
    &self,
    env: Env,
    _receiver: Option<Unknown>,
    _args: Option<Unknown>,
    _options: Option<Unknown>,
  ) -> napi::Result<()> {
    Err(js::error(
      env.raw(),
      "This function may not be called from the default thread",
    ))
  }

  /// Deletes a property (Promise).
  #[napi(catch_unwind)]
  pub fn delete(&self, env: Env, key: Unknown) -> napi::Result<Raw> {
    js::rejecting(env.raw(), self.delete_impl(env, key, Flavor::Async))
  }

  /// Deletes a property.
  #[napi(catch_unwind)]
  pub fn delete_sync(&self, env: Env, key: Unknown) -> napi::Result<Raw> {
    self.delete_impl(env, key, Flavor::Sync)
  }

  /// Deletes a property, ignoring the outcome.
  #[napi(catch_unwind)]
  pub fn delete_ignored(&self, env: Env, key: Unknown) -> napi::Result<Raw> {
    self.delete_impl(env, key, Flavor::Ignored)
  }
}
