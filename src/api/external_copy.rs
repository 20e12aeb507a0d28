//! `ExternalCopy`: a value copied out of any heap, and its single-use `copyInto()` token.

use crate::api::options;
use crate::bridge::convert;
use crate::bridge::js::{self, Failure, Raw};
use crate::error::msg;
use crate::isolate::options::CopyOptions;
use crate::transfer::external::{self, ExternalData};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};
use parking_lot::Mutex;
use std::sync::Arc;

/// A copy of a value held outside every isolate; `copy()` materialises it anywhere.
#[napi_derive::napi]
pub struct ExternalCopy {
  data: Mutex<Option<Arc<ExternalData>>>,
}

/// The token `copyInto()` returns; it becomes a copy when transferred into an isolate, once.
#[napi_derive::napi(js_name = "ExternalCopyInto")]
pub struct ExternalCopyInto {
  data: Mutex<Option<Arc<ExternalData>>>,
  /// `copyInto({ transferIn: true })`: the value moves out of the ExternalCopy on arrival.
  transfer_in: bool,
}

fn raw(u: Option<Unknown>) -> sys::napi_value {
  u.map(|u| u.raw()).unwrap_or(std::ptr::null_mut())
}

/// Copies a host value for an ExternalCopy: primitives, structured clones; a bare symbol is
/// "Unsupported type".
fn copy_value(env: sys::napi_env, v: sys::napi_value) -> Result<Value, Failure> {
  if let Some(p) = convert::primitive(env, v)? {
    return Ok(p);
  }
  if js::type_of(env, v) == sys::ValueType::napi_symbol {
    return Err(Thrown::type_error("Unsupported type").into());
  }
  convert::copy(env, v)
}

/// Objects other than ArrayBuffers and their views (copied byte-wise already) go through
/// Node's serialiser first.
fn fast_path(env: sys::napi_env, v: sys::napi_value) -> bool {
  if js::type_of(env, v) != sys::ValueType::napi_object {
    return false;
  }
  let checks: [unsafe extern "C" fn(sys::napi_env, sys::napi_value, *mut bool) -> sys::napi_status;
    3] = [
    sys::napi_is_arraybuffer,
    sys::napi_is_typedarray,
    sys::napi_is_dataview,
  ];
  checks.iter().all(|check| {
    let mut yes = true;
    // SAFETY: valid env and value; a failed check leaves `yes` set, taking the usual path.
    unsafe { check(env, v, &mut yes) };
    !yes
  })
}

/// Detaches the ArrayBuffers in `transferList` (and the value itself, or a view's buffer, with
/// `transferOut`); true when a `transferList` named any.
fn detach_all(
  env: sys::napi_env,
  value: sys::napi_value,
  opts: Option<sys::napi_value>,
) -> Result<bool, Failure> {
  let mut buffers = Vec::new();
  if let Some(list) = options::field(env, opts, "transferList")? {
    let mut is_array = false;
    // SAFETY: valid env and value.
    js::check(unsafe { sys::napi_is_array(env, list, &mut is_array) })?;
    if !is_array {
      return Err(Thrown::type_error("Non-ArrayBuffer passed in `transferList`").into());
    }
    let mut len = 0u32;
    // SAFETY: list is an array.
    js::check(unsafe { sys::napi_get_array_length(env, list, &mut len) })?;
    for i in 0..len {
      let mut x = std::ptr::null_mut();
      // SAFETY: index in range.
      js::check(unsafe { sys::napi_get_element(env, list, i, &mut x) })?;
      let mut is_ab = false;
      // SAFETY: valid value.
      js::check(unsafe { sys::napi_is_arraybuffer(env, x, &mut is_ab) })?;
      if !is_ab {
        return Err(Thrown::type_error("Non-ArrayBuffer passed in `transferList`").into());
      }
      buffers.push(x);
    }
  }
  let listed = !buffers.is_empty();
  if options::flag(env, opts, "transferOut")? {
    let mut is_ab = false;
    // SAFETY: valid value.
    js::check(unsafe { sys::napi_is_arraybuffer(env, value, &mut is_ab) })?;
    if is_ab {
      buffers.push(value);
    } else if let Some(buffer) = view_buffer(env, value)? {
      // A typed array or DataView: its buffer goes (isolated-vm detaches it too).
      buffers.push(buffer);
    }
  }
  for b in buffers {
    // SAFETY: b is an ArrayBuffer; detaching a non-detachable one fails harmlessly.
    unsafe { sys::napi_detach_arraybuffer(env, b) };
  }
  Ok(listed)
}

/// The ArrayBuffer under a typed array or DataView, `None` for other values.
fn view_buffer(env: sys::napi_env, v: sys::napi_value) -> Result<Option<sys::napi_value>, Failure> {
  let mut buffer = std::ptr::null_mut();
  let (mut is_typed, mut is_view) = (false, false);
  // SAFETY: valid env and value.
  js::check(unsafe { sys::napi_is_typedarray(env, v, &mut is_typed) })?;
  if is_typed {
    // SAFETY: v is a typed array; only its buffer is asked for.
    js::check(unsafe {
      sys::napi_get_typedarray_info(
        env,
        v,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        &mut buffer,
        std::ptr::null_mut(),
      )
    })?;
    return Ok(Some(buffer));
  }
  // SAFETY: valid env and value.
  js::check(unsafe { sys::napi_is_dataview(env, v, &mut is_view) })?;
  if is_view {
    // SAFETY: v is a DataView; only its buffer is asked for.
    js::check(unsafe {
      sys::napi_get_dataview_info(
        env,
        v,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        &mut buffer,
        std::ptr::null_mut(),
      )
    })?;
    return Ok(Some(buffer));
  }
  Ok(None)
}

impl ExternalCopy {
  /// Wraps existing data (results with `externalCopy: true`).
  pub fn wrap(data: Arc<ExternalData>) -> ExternalCopy {
    ExternalCopy {
      data: Mutex::new(Some(data)),
    }
  }

  /// The data, or "Copy has been released".
  pub fn data(&self) -> Result<Arc<ExternalData>, Thrown> {
    self
      .data
      .lock()
      .clone()
      .ok_or_else(|| Thrown::error("Copy has been released"))
  }
}

impl ExternalCopyInto {
  /// Takes the data out (single use).
  pub fn take(&self) -> Result<Arc<ExternalData>, Thrown> {
    self
      .data
      .lock()
      .take()
      .ok_or_else(|| Thrown::error("The return value of `copyInto()` should only be used once"))
  }
}

impl ExternalCopy {
  /// `new ExternalCopy(value, { transferList, transferOut })`, as the factory that `index.js`
  /// constructs with calls it (`api/fast.rs`).
  pub fn create(env: Env, value: Unknown, options: Option<Unknown>) -> napi::Result<Self> {
    let e = env.raw();
    let data = (|| -> Result<_, Failure> {
      let o = options::object_arg(e, raw(options), "ExternalCopy", 2)?;
      if o.is_none() && fast_path(e, value.raw()) {
        if let Some(data) = convert::external(e, value.raw())? {
          return Ok(data);
        }
      }
      let copied = copy_value(e, value.raw())?;
      let listed = detach_all(e, value.raw(), o)?;
      let data = ExternalData::new(copied);
      if listed {
        data.mark_transfer_list();
      }
      Ok(data)
    })()
    .map_err(|f| f.throw(e))?;
    Ok(ExternalCopy::wrap(data))
  }
}

#[napi_derive::napi]
impl ExternalCopy {
  /// The registered class's own constructor, which `index.js` never exposes: objects are made
  /// by the factory (their finalizers must not be napi-rs's, which delete a Node-API reference
  /// and so may not run inside a garbage collection; see `bridge/api_version.rs`).
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(
      env.raw(),
      &msg::private_ctor("ExternalCopy"),
    ))
  }

  /// Materialises the copy here (`{ release }` releases this handle afterwards).
  #[napi(catch_unwind)]
  pub fn copy(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    let e = env.raw();
    let out = (|| -> Result<_, Failure> {
      let o = options::method::<CopyOptions>(e, raw(options), 1)?;
      let data = self.data()?;
      let v = convert::materialize(e, &data, o.transfer_in)?;
      if o.release {
        self.data.lock().take();
      }
      Ok(v)
    })();
    js::ret(e, out)
  }

  /// A single-use token that becomes a copy when transferred into an isolate.
  #[napi(catch_unwind)]
  pub fn copy_into(&self, env: Env, options: Option<Unknown>) -> napi::Result<Raw> {
    let e = env.raw();
    let out = (|| -> Result<_, Failure> {
      let o = options::method::<CopyOptions>(e, raw(options), 1)?;
      let data = self.data()?;
      if o.release {
        self.data.lock().take();
      }
      let token = ExternalCopyInto {
        data: Mutex::new(Some(data)),
        transfer_in: o.transfer_in,
      };
      let object = crate::api::instance::new(e, "ExternalCopyInto\0", token)?;
      Ok(crate::bridge::js::frozen(e, object)?)
    })();
    js::ret(e, out)
  }

  /// Releases this handle; a second call throws "Copy has been released".
  #[napi(catch_unwind)]
  pub fn release(&self, env: Env) -> napi::Result<()> {
    if self.data.lock().take().is_none() {
      return Err(js::error(env.raw(), "Copy has been released"));
    }
    Ok(())
  }
}

#[napi_derive::napi]
impl ExternalCopyInto {
  /// Tokens come only from `copyInto()`.
  #[napi(constructor, catch_unwind)]
  pub fn constructor(env: Env) -> napi::Result<Self> {
    Err(js::type_error(
      env.raw(),
      &msg::private_ctor("ExternalCopyInto"),
    ))
  }
}

/// `ExternalCopy.totalExternalSize` (installed as a static getter by `index.js`).
#[napi_derive::napi(js_name = "__totalExternalSize", catch_unwind)]
pub fn total_external_size() -> f64 {
  external::total_external_size() as f64
}

/// A token's data as a transferable handle (single use: the token is spent).
pub fn token_handle(token: &ExternalCopyInto) -> Result<crate::isolate::handle::Handle, Thrown> {
  Ok(crate::isolate::handle::Handle::CopyInto(
    token.take()?,
    token.transfer_in,
  ))
}
