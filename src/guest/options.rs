//! The guest face's access to the engine's option schema (`isolate::options`): option objects
//! and arguments passed to ivm methods inside a guest, read as V8 values.

pub use crate::isolate::options::v8_source::V8Source;
use crate::isolate::options::Schema;
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;
use crate::transfer::value::{JsString, Value};

/// Checks options argument `v` (parameter `n` of constructor `class`) and reads schema `T`.
pub fn parse<'s, T: Schema>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  class: &str,
  n: u32,
) -> Result<T, Thrown> {
  T::parse(&mut V8Source::new(scope), v, class, n)
}

/// The options argument of a method, parameter `n` (reported as `undefined`, SPEC §2.4).
pub fn method<'s, T: Schema>(
  scope: &mut v8::PinScope<'s, '_>,
  v: v8::Local<'s, v8::Value>,
  n: u32,
) -> Result<T, Thrown> {
  parse(scope, v, crate::isolate::options::METHOD, n)
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
