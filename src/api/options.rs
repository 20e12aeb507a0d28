//! The host face's [`OptionSource`]: option objects and arguments as napi values, read with the
//! engine's one option schema (`isolate::options`). Node's thread only.

use crate::bridge::convert;
use crate::bridge::js::{self, Failure};
use crate::error::msg;
use crate::isolate::options::{self as schema, KeyKind, Kind, OptionSource, Schema};
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
use napi::sys;

/// Reads napi values of environment `env`.
#[derive(Clone, Copy)]
pub struct NapiSource(pub sys::napi_env);

impl OptionSource for NapiSource {
  type Value = sys::napi_value;
  type Object = sys::napi_value;
  type Error = Failure;

  fn kind(&mut self, v: sys::napi_value) -> Kind {
    if v.is_null() {
      return Kind::Undefined;
    }
    match js::type_of(self.0, v) {
      sys::ValueType::napi_undefined => Kind::Undefined,
      sys::ValueType::napi_null => Kind::Null,
      sys::ValueType::napi_boolean => Kind::Bool,
      sys::ValueType::napi_number => Kind::Number,
      sys::ValueType::napi_string => Kind::String,
      sys::ValueType::napi_bigint => Kind::BigInt,
      sys::ValueType::napi_symbol => Kind::Symbol,
      sys::ValueType::napi_function => Kind::Function,
      _ => Kind::Object,
    }
  }

  fn truthy(&mut self, v: sys::napi_value) -> bool {
    let mut b = std::ptr::null_mut();
    let mut out = false;
    // SAFETY: valid env and value on Node's thread; coercion to boolean never runs JS.
    unsafe {
      if sys::napi_coerce_to_bool(self.0, v, &mut b) == sys::Status::napi_ok {
        sys::napi_get_value_bool(self.0, b, &mut out);
      }
    }
    out
  }

  fn number(&mut self, v: sys::napi_value) -> f64 {
    let mut n = f64::NAN;
    // SAFETY: valid env and a number value.
    unsafe { sys::napi_get_value_double(self.0, v, &mut n) };
    n
  }

  fn string(&mut self, v: sys::napi_value) -> Result<String, Failure> {
    Ok(convert::rust_string(self.0, v).unwrap_or_default())
  }

  fn object(&mut self, v: sys::napi_value) -> Option<sys::napi_value> {
    self.kind(v).is_object().then_some(v)
  }

  fn get(&mut self, obj: sys::napi_value, name: &'static str) -> Result<sys::napi_value, Failure> {
    Ok(js::get_named(self.0, obj, name)?)
  }

  fn external_copy(
    &mut self,
    v: sys::napi_value,
  ) -> Option<std::sync::Arc<crate::transfer::external::ExternalData>> {
    crate::api::handles::external_copy_of(self.0, v)
  }
}

/// An options object whose fields `index.js` read already (a property read costs nanoseconds
/// in JS and a key string per read through Node-API): `values` in the order of `names`; other
/// fields are read from the object.
pub struct Prefetched<'a> {
  /// Reads everything else.
  pub inner: NapiSource,
  /// The fields read in advance.
  pub names: &'static [&'static str],
  /// Their values.
  pub values: &'a [sys::napi_value],
}

impl OptionSource for Prefetched<'_> {
  type Value = sys::napi_value;
  type Object = sys::napi_value;
  type Error = Failure;

  fn kind(&mut self, v: sys::napi_value) -> Kind {
    self.inner.kind(v)
  }

  fn truthy(&mut self, v: sys::napi_value) -> bool {
    self.inner.truthy(v)
  }

  fn number(&mut self, v: sys::napi_value) -> f64 {
    self.inner.number(v)
  }

  fn string(&mut self, v: sys::napi_value) -> Result<String, Failure> {
    self.inner.string(v)
  }

  fn object(&mut self, v: sys::napi_value) -> Option<sys::napi_value> {
    self.inner.object(v)
  }

  fn get(&mut self, obj: sys::napi_value, name: &'static str) -> Result<sys::napi_value, Failure> {
    match self.names.iter().position(|n| *n == name) {
      Some(i) if i < self.values.len() => Ok(self.values[i]),
      _ => self.inner.get(obj, name),
    }
  }

  fn external_copy(
    &mut self,
    v: sys::napi_value,
  ) -> Option<std::sync::Arc<crate::transfer::external::ExternalData>> {
    self.inner.external_copy(v)
  }
}

/// Checks options argument `v` (parameter `n` of `what`; methods are `undefined`) and reads
/// it with schema `T`.
pub fn parse<T: Schema>(
  env: sys::napi_env,
  v: sys::napi_value,
  what: &str,
  n: u32,
) -> Result<T, Failure> {
  T::parse(&mut NapiSource(env), v, what, n)
}

/// The options argument of a method, parameter `n`.
pub fn method<T: Schema>(env: sys::napi_env, v: sys::napi_value, n: u32) -> Result<T, Failure> {
  parse(env, v, schema::METHOD, n)
}

/// True for `undefined` (an absent argument).
pub fn is_undefined(env: sys::napi_env, v: sys::napi_value) -> bool {
  NapiSource(env).kind(v) == Kind::Undefined
}

/// An options argument: `undefined`/`null` → `None`, an object → `Some`, else the TypeError.
pub fn object_arg(
  env: sys::napi_env,
  v: sys::napi_value,
  what: &str,
  n: u32,
) -> Result<Option<sys::napi_value>, Failure> {
  schema::object_arg(&mut NapiSource(env), v, what, n)
}

/// `obj[name]`, or `None` when there is no options object or the field is `undefined`/`null`.
pub fn field(
  env: sys::napi_env,
  obj: Option<sys::napi_value>,
  name: &'static str,
) -> Result<Option<sys::napi_value>, Failure> {
  schema::field(&mut NapiSource(env), obj, name)
}

/// A boolean flag (truthiness).
pub fn flag(
  env: sys::napi_env,
  obj: Option<sys::napi_value>,
  name: &'static str,
) -> Result<bool, Failure> {
  schema::flag(&mut NapiSource(env), obj, name)
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

/// The argument types a Reference method checks before it looks at its target, as
/// isolated-vm's signature checks do: options parameter `n` must be an object (or absent), and
/// for `apply` (`args` given) parameter 2 an array (or absent). The fields and the values
/// themselves are read after the target was found alive.
pub fn signature(
  env: sys::napi_env,
  options: sys::napi_value,
  n: u32,
  args: Option<sys::napi_value>,
) -> Result<(), Failure> {
  object_arg(env, options, schema::METHOD, n)?;
  if let Some(a) = args {
    let mut is_array = false;
    // SAFETY: valid env and value.
    let status = unsafe { sys::napi_is_array(env, a, &mut is_array) };
    let array = status == sys::Status::napi_ok && is_array;
    if !array && !is_undefined(env, a) {
      return Err(Thrown::type_error("`undefined` requires parameter 2 to be an array").into());
    }
  }
  Ok(())
}

/// A key argument of kind `kind` (from [`key_kind`]) as it travels into an isolate: a string
/// or an index; a symbol cannot ("Invalid `key`").
pub fn key_value(env: sys::napi_env, v: sys::napi_value, kind: KeyKind) -> Result<Value, Failure> {
  match kind {
    KeyKind::String => match convert::primitive(env, v)? {
      Some(Value::String(s)) => Ok(Value::String(s)),
      _ => Err(Thrown::type_error(msg::INVALID_KEY).into()),
    },
    KeyKind::Index(i) => Ok(Value::Number(f64::from(i))),
    KeyKind::Symbol => Err(Thrown::type_error(msg::INVALID_KEY).into()),
  }
}

/// Classifies a key argument (string, symbol or uint32, else "Invalid `key`").
pub fn key_kind(env: sys::napi_env, v: sys::napi_value) -> Result<KeyKind, Failure> {
  Ok(schema::key(&mut NapiSource(env), v)?)
}

/// "A non-transferable value was passed".
pub fn non_transferable() -> Failure {
  Thrown::type_error(msg::NON_TRANSFERABLE).into()
}
