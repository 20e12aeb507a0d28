//! Reading option objects and arguments passed to ivm methods inside a guest (the guest
//! counterpart of `api::options`, with the same error texts).

use crate::isolate::runtime::Origin;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;
use crate::transfer::value::{JsString, Value};

fn read_failed() -> Thrown {
  Thrown::error("Failed to read options")
}

/// The options object in `v`: `None` for `undefined`, TypeError for other non-objects.
pub fn object<'s>(
  v: v8::Local<'s, v8::Value>,
  class: &str,
  n: u32,
) -> Result<Option<v8::Local<'s, v8::Object>>, Thrown> {
  if v.is_undefined() {
    return Ok(None);
  }
  v8::Local::<v8::Object>::try_from(v)
    .map(Some)
    .map_err(|_| Thrown::type_error(format!("`{class}` requires parameter {n} to be an object")))
}

/// Field `name` of `obj` (`None` when absent or `undefined`).
pub fn field<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
  name: &str,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let Some(o) = obj else { return Ok(None) };
  let k = v8::String::new(scope, name).ok_or_else(read_failed)?;
  let v = o.get(scope, k.into()).ok_or_else(read_failed)?;
  Ok((!v.is_undefined()).then_some(v))
}

/// A boolean flag (truthiness).
pub fn flag<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
  name: &str,
) -> Result<bool, Thrown> {
  Ok(field(scope, obj, name)?.is_some_and(|v| v.boolean_value(scope)))
}

/// A number field (TypeError "`name` must be a number" for other types and NaN).
pub fn number<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
  name: &str,
) -> Result<Option<f64>, Thrown> {
  match field(scope, obj, name)? {
    None => Ok(None),
    Some(v) => match v.number_value(scope) {
      Some(n) if v.is_number() && !n.is_nan() => Ok(Some(n)),
      _ => Err(Thrown::type_error(format!("`{name}` must be a number"))),
    },
  }
}

/// `timeout` in ms (0 = none); negative is a TypeError, fractions round up.
pub fn timeout<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
) -> Result<u32, Thrown> {
  match number(scope, obj, "timeout")? {
    None => Ok(0),
    Some(n) if n < 0.0 => Err(Thrown::type_error(
      "`timeout` must be a non-negative number",
    )),
    Some(n) => Ok(n.ceil().min(f64::from(u32::MAX)) as u32),
  }
}

/// `copy` / `externalCopy` / `reference` / `promise`.
pub fn transfer<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
) -> Result<TransferOptions, Thrown> {
  TransferOptions::new(
    flag(scope, obj, "copy")?,
    flag(scope, obj, "externalCopy")?,
    flag(scope, obj, "reference")?,
    flag(scope, obj, "promise")?,
  )
}

/// The nested `arguments` / `result` transfer options.
pub fn transfer_nested<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
  name: &str,
) -> Result<TransferOptions, Thrown> {
  match field(scope, obj, name)? {
    None => Ok(TransferOptions::default()),
    Some(v) => {
      let o = object(v, name, 1)?;
      transfer(scope, o)
    }
  }
}

/// A required string argument, with the host's texts.
pub fn string<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  n: u32,
) -> Result<JsString, Thrown> {
  if v.is_undefined() && n == 1 {
    return Err(Thrown::type_error(
      "`undefined` requires at least 1 parameter",
    ));
  }
  match v8_out::primitive(scope, v) {
    Some(Value::String(s)) if v.is_string() => Ok(s),
    _ => Err(Thrown::type_error(format!(
      "`undefined` requires parameter {n} to be a string"
    ))),
  }
}

/// ScriptOrigin fields: `filename`, `lineOffset`, `columnOffset`.
pub fn origin<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: Option<v8::Local<'s, v8::Object>>,
) -> Result<Origin, Thrown> {
  let filename = match field(scope, obj, "filename")? {
    None => "<isolated-vm>".to_string(),
    Some(v) if v.is_string() => v.to_rust_string_lossy(scope),
    Some(_) => return Err(Thrown::type_error("`filename` must be a string")),
  };
  let mut int = |name: &str| -> Result<i32, Thrown> {
    Ok(match number(scope, obj, name)? {
      None => 0,
      Some(n) => n.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32,
    })
  };
  Ok(Origin {
    filename,
    line_offset: int("lineOffset")?,
    column_offset: int("columnOffset")?,
  })
}
