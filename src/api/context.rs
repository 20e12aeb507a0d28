//! `Context`: a guest global scope, with `global`, `eval*` and `evalClosure*`.

use crate::api::handle::{RemoteHandle, Slot};
use crate::api::options;
use crate::api::reference::{import, out_to_napi, Reference};
use crate::bridge::env::EnvData;
use crate::bridge::js::{self, Failure, Raw};
use crate::bridge::{self, Flavor, NodePtr};
use crate::error::msg;
use crate::isolate::ops::script;
use crate::isolate::options::{ClosureOptions, EvalOptions};
use crate::isolate::runner::holding;
use crate::isolate::IsolateHost;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};
use std::cell::RefCell;
use std::sync::Arc;

/// A context in a guest isolate. Created only by `createContext*`.
#[napi_derive::napi]
pub struct Context {
  pub(crate) host: Arc<IsolateHost>,
  pub(crate) slot: Slot,
  /// The handle behind `global`, shared with the Reference object once it exists.
  global_slot: Arc<Slot>,
  global_obj: RefCell<Option<(NodePtr<sys::napi_env>, NodePtr<sys::napi_ref>)>>,
}

impl Drop for Context {
  fn drop(&mut self) {
    crate::api::fast::forget(&*self);
    // Dropped by the object's finalizer, which may run inside a garbage collection.
    if let Some((env, r)) = self.global_obj.borrow_mut().take() {
      if let Ok(data) = EnvData::get(env.get()) {
        data.delete_ref_later(r.get());
      }
    }
  }
}

fn raw(u: Option<Unknown>) -> sys::napi_value {
  u.map(|u| u.raw()).unwrap_or(std::ptr::null_mut())
}

/// Reads an arguments array (`undefined` → none) with the `arguments` transfer options.
pub fn import_args(
  e: sys::napi_env,
  a: sys::napi_value,
  t: TransferOptions,
) -> Result<Vec<crate::transfer::value::Value>, Failure> {
  import_args_spread(e, a, &[], t)
}

/// [`import_args`], given the array's elements as read by the caller too (`spread`, from the
/// `applySync` wrapper in `index.js`): when `a` is an array of that length, the elements are
/// taken from `spread` instead of being read one by one through Node-API.
pub fn import_args_spread(
  e: sys::napi_env,
  a: sys::napi_value,
  spread: &[sys::napi_value],
  t: TransferOptions,
) -> Result<Vec<crate::transfer::value::Value>, Failure> {
  let mut values = Vec::new();
  if options::is_undefined(e, a) {
    return Ok(values);
  }
  let mut is_array = false;
  // SAFETY: valid env and value.
  js::check(unsafe { sys::napi_is_array(e, a, &mut is_array) })?;
  if !is_array {
    return Err(Thrown::type_error("`undefined` requires parameter 2 to be an array").into());
  }
  let mut len = 0u32;
  // SAFETY: a is an array.
  js::check(unsafe { sys::napi_get_array_length(e, a, &mut len) })?;
  values.reserve(len as usize);
  if len > 0 && spread.len() == len as usize {
    for &x in spread {
      values.push(import(e, x, t)?);
    }
    return Ok(values);
  }
  for i in 0..len {
    let mut x = std::ptr::null_mut();
    // SAFETY: index in range.
    js::check(unsafe { sys::napi_get_element(e, a, i, &mut x) })?;
    values.push(import(e, x, t)?);
  }
  Ok(values)
}

impl Context {
  /// Wraps context `id` and its global Reference `global` of `host`.
  pub fn new(host: Arc<IsolateHost>, id: u32, global: u32) -> Context {
    Context {
      slot: Slot::new(RemoteHandle {
        host: host.clone(),
        id,
      }),
      global_slot: Arc::new(Slot::new(RemoteHandle {
        host: host.clone(),
        id: global,
      })),
      global_obj: RefCell::new(None),
      host,
    }
  }

  /// A Context object for a context arriving from another thread.
  pub fn from_transfer(c: &crate::isolate::remote::IsolateContext) -> Context {
    Context {
      host: c.handle.host.clone(),
      slot: Slot::from_arc(c.handle.clone()),
      global_slot: Arc::new(Slot::from_arc(c.global.handle.clone())),
      global_obj: RefCell::new(None),
    }
  }

  /// The context as it leaves for another thread, or "Context is released".
  pub fn transfer(&self) -> Result<crate::isolate::remote::IsolateContext, Thrown> {
    Ok(crate::isolate::remote::IsolateContext {
      handle: self.slot.get(msg::CONTEXT_RELEASED)?,
      global: crate::isolate::remote::IsolateRef {
        handle: self.global_slot.get(msg::CONTEXT_RELEASED)?,
        type_of: "object",
      },
    })
  }

  /// The context's table id, or "Context is released".
  pub fn id(&self) -> Result<u32, Thrown> {
    Ok(self.slot.get(msg::CONTEXT_RELEASED)?.id)
  }

  /// The context's handle, or "Context is released": a call keeps it until it ran, so that
  /// releasing the context (or Node collecting it) after issuing the call does not overtake
  /// the call, as in isolated-vm.
  pub fn held(&self) -> Result<Arc<crate::isolate::remote::RemoteHandle>, Thrown> {
    self.slot.get(msg::CONTEXT_RELEASED)
  }

  pub(crate) fn eval_impl(
    &self,
    env: Env,
    code: Unknown,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    let (ctx, code, origin, timeout, t) = (|| -> Result<_, Failure> {
      let ctx = self.held()?;
      let code = options::string_arg(e, code.raw(), 1)?;
      let o = options::method::<EvalOptions>(e, raw(opts), 2)?;
      Ok((ctx, code, o.origin, o.timeout, o.transfer))
    })()
    .map_err(|f| f.throw(e))?;
    let host = self.host.clone();
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      {
        let id = ctx.id;
        holding(ctx, move |rt| {
          script::eval(rt, id, code, origin, timeout, t)
        })
      },
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }

  pub(crate) fn closure_impl(
    &self,
    env: Env,
    code: Unknown,
    args: Option<Unknown>,
    opts: Option<Unknown>,
    flavor: Flavor,
  ) -> napi::Result<Raw> {
    let e = env.raw();
    let parsed = (|| -> Result<_, Failure> {
      let ctx = self.held()?;
      let code = options::string_arg(e, code.raw(), 1)?;
      let o = options::method::<ClosureOptions>(e, raw(opts), 3)?;
      let values = import_args(e, raw(args), o.arguments)?;
      Ok((ctx, code, values, o.origin, o.timeout, o.result))
    })();
    let (ctx, code, values, origin, timeout, result) = parsed.map_err(|f| f.throw(e))?;
    let host = self.host.clone();
    let v = bridge::run(
      &env,
      &self.host,
      flavor,
      {
        let id = ctx.id;
        holding(ctx, move |rt| {
          script::eval_closure(rt, id, code, values, origin, timeout, result)
        })
      },
      move |env, out| out_to_napi(env, &host, out),
    )?;
    Ok(Raw(v))
  }
}

#[napi_derive::napi]
impl Context {
  /// Contexts come only from `isolate.createContext()`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(env.raw(), &msg::private_ctor("Context")))
  }

  /// A Reference to the context's global object (the same object every time).
  #[napi(getter, catch_unwind)]
  pub fn global(&self, env: Env) -> napi::Result<Raw> {
    let e = env.raw();
    if let Some((_, r)) = self.global_obj.borrow().as_ref() {
      let mut v = std::ptr::null_mut();
      // SAFETY: the reference belongs to this env.
      js::check(unsafe { sys::napi_get_reference_value(e, r.get(), &mut v) })?;
      return Ok(Raw(v));
    }
    if !self.global_slot.is_held() {
      return Ok(Raw(js::undefined(e)?));
    }
    let reference = Reference::shared(self.global_slot.clone(), "object");
    let v = crate::api::instance::new(e, "Reference\0", reference)?;
    let v = crate::bridge::js::frozen(e, v)?;
    let mut r = std::ptr::null_mut();
    // SAFETY: valid env and object.
    js::check(unsafe { sys::napi_create_reference(e, v, 1, &mut r) })?;
    *self.global_obj.borrow_mut() = Some((NodePtr(e), NodePtr(r)));
    Ok(Raw(v))
  }

  /// Releases the context and its `global`; `true` the first time, `false` afterwards.
  #[napi(catch_unwind)]
  pub fn release(&self) -> bool {
    let first = self.slot.release();
    self.global_slot.release();
    if let Some((e, r)) = self.global_obj.borrow_mut().take() {
      // SAFETY: the reference belongs to this env and is deleted once.
      unsafe { sys::napi_delete_reference(e.get(), r.get()) };
    }
    first
  }
}
