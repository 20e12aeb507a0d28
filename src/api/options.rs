//! Reading option objects and arguments from JS with isolated-vm's exact TypeErrors.

use crate::bridge::convert;
use crate::bridge::js::{self, Failure};
use crate::error::msg;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use napi::sys;

/// True for `undefined` (absent options).
pub fn is_undefined(env: sys::napi_env, v: sys::napi_value) -> bool {
  v.is_null() || js::type_of(env, v) == sys::ValueType::napi_undefined
}

/// An options argument: `undefined` → `None`, an object → `Some`, anything else → TypeError
/// "`<what>` requires parameter <n> to be an object" (isolated-vm renders methods as `undefined`).
pub fn object_arg(
  env: sys::napi_env,
  v: sys::napi_value,
  what: &str,
  n: u32,
) -> Result<Option<sys::napi_value>, Failure> {
  if is_undefined(env, v) {
    return Ok(None);
  }
  match js::type_of(env, v) {
    sys::ValueType::napi_object | sys::ValueType::napi_function => Ok(Some(v)),
    _ => Err(Thrown::type_error(format!("`{what}` requires parameter {n} to be an object")).into()),
  }
}

/// `obj[name]`, or `undefined` when there is no options object.
pub fn field(
  env: sys::napi_env,
  obj: Option<sys::napi_value>,
  name: &str,
) -> Result<Option<sys::napi_value>, Failure> {
  match obj {
    None => Ok(None),
    Some(o) => {
      let v = js::get_named(env, o, name)?;
      Ok((!is_undefined(env, v)).then_some(v))
    }
  }
}

/// A boolean flag: truthiness, like isolated-vm's option reader.
pub fn flag(env: sys::napi_env, obj: Option<sys::napi_value>, name: &str) -> Result<bool, Failure> {
  match field(env, obj, name)? {
    None => Ok(false),
    Some(v) => {
      let mut b = std::ptr::null_mut();
      // SAFETY: valid env and value.
      js::check(unsafe { sys::napi_coerce_to_bool(env, v, &mut b) })?;
      let mut out = false;
      // SAFETY: b is a boolean.
      js::check(unsafe { sys::napi_get_value_bool(env, b, &mut out) })?;
      Ok(out)
    }
  }
}

/// A numeric option, or `None` when absent. Non-numbers and NaN → "`<name>` must be a number".
pub fn number(
  env: sys::napi_env,
  obj: Option<sys::napi_value>,
  name: &str,
) -> Result<Option<f64>, Failure> {
  match field(env, obj, name)? {
    None => Ok(None),
    Some(v) => match convert::primitive(env, v)? {
      Some(crate::transfer::value::Value::Number(n)) if !n.is_nan() => Ok(Some(n)),
      _ => Err(Thrown::type_error(format!("`{name}` must be a number")).into()),
    },
  }
}

/// `timeout` in ms (0 = none). Negative → TypeError; fractions round up; huge values saturate.
pub fn timeout(env: sys::napi_env, obj: Option<sys::napi_value>) -> Result<u32, Failure> {
  match number(env, obj, "timeout")? {
    None => Ok(0),
    Some(n) if n < 0.0 => Err(Thrown::type_error("`timeout` must be a non-negative number").into()),
    Some(n) => Ok(n.ceil().min(f64::from(u32::MAX)) as u32),
  }
}

/// `copy` / `externalCopy` / `reference` / `promise` from an options object.
pub fn transfer(
  env: sys::napi_env,
  obj: Option<sys::napi_value>,
) -> Result<TransferOptions, Failure> {
  let t = TransferOptions::new(
    flag(env, obj, "copy")?,
    flag(env, obj, "externalCopy")?,
    flag(env, obj, "reference")?,
    flag(env, obj, "promise")?,
  )?;
  Ok(t)
}

/// The nested `arguments` or `result` transfer options (`TransferOptionsBidirectional`).
pub fn transfer_nested(
  env: sys::napi_env,
  obj: Option<sys::napi_value>,
  name: &str,
) -> Result<TransferOptions, Failure> {
  match field(env, obj, name)? {
    None => Ok(TransferOptions::default()),
    Some(v) => {
      let o = object_arg(env, v, name, 1)?;
      transfer(env, o)
    }
  }
}

/// A required string argument ("`undefined` requires parameter N to be a string").
pub fn string_arg(
  env: sys::napi_env,
  v: sys::napi_value,
  n: u32,
) -> Result<crate::transfer::value::JsString, Failure> {
  if is_undefined(env, v) && n == 1 {
    return Err(Thrown::type_error("`undefined` requires at least 1 parameter").into());
  }
  if js::type_of(env, v) != sys::ValueType::napi_string {
    return Err(
      Thrown::type_error(format!("`undefined` requires parameter {n} to be a string")).into(),
    );
  }
  Ok(convert::read_string(env, v)?)
}

/// ScriptOrigin fields: `filename`, `lineOffset`, `columnOffset`.
pub fn origin(
  env: sys::napi_env,
  obj: Option<sys::napi_value>,
) -> Result<crate::isolate::runtime::Origin, Failure> {
  let filename = match field(env, obj, "filename")? {
    None => "<isolated-vm>".to_string(),
    Some(v) => {
      if js::type_of(env, v) != sys::ValueType::napi_string {
        return Err(Thrown::type_error("`filename` must be a string").into());
      }
      convert::rust_string(env, v).unwrap_or_default()
    }
  };
  let int = |name: &str| -> Result<i32, Failure> {
    Ok(match number(env, obj, name)? {
      None => 0,
      Some(n) => n.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32,
    })
  };
  Ok(crate::isolate::runtime::Origin {
    filename,
    line_offset: int("lineOffset")?,
    column_offset: int("columnOffset")?,
  })
}

/// Keeps the message catalogue referenced from this module.
pub fn non_transferable() -> Failure {
  Thrown::type_error(msg::NON_TRANSFERABLE).into()
}
