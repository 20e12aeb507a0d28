//! [`OptionSource`] over V8 values: options passed to ivm methods inside a guest. Used under
//! the isolate's lock, inside a V8 function callback.

use super::source::{Kind, OptionSource};
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_out;

/// Reads option objects of the current guest call.
pub struct V8Source<'a, 's, 'i> {
  scope: &'a mut v8::PinScope<'s, 'i>,
}

impl<'a, 's, 'i> V8Source<'a, 's, 'i> {
  /// A source reading through `scope`.
  pub fn new(scope: &'a mut v8::PinScope<'s, 'i>) -> Self {
    V8Source { scope }
  }
}

fn read_failed() -> Thrown {
  Thrown::error("Failed to read options")
}

impl<'s> OptionSource for V8Source<'_, 's, '_> {
  type Value = v8::Local<'s, v8::Value>;
  type Object = v8::Local<'s, v8::Object>;
  type Error = Thrown;

  fn kind(&mut self, v: Self::Value) -> Kind {
    if v.is_undefined() {
      Kind::Undefined
    } else if v.is_null() {
      Kind::Null
    } else if v.is_boolean() {
      Kind::Bool
    } else if v.is_number() {
      Kind::Number
    } else if v.is_string() {
      Kind::String
    } else if v.is_big_int() {
      Kind::BigInt
    } else if v.is_symbol() {
      Kind::Symbol
    } else if v.is_function() {
      Kind::Function
    } else {
      Kind::Object
    }
  }

  fn truthy(&mut self, v: Self::Value) -> bool {
    v.boolean_value(self.scope)
  }

  fn number(&mut self, v: Self::Value) -> f64 {
    v.number_value(self.scope).unwrap_or(f64::NAN)
  }

  fn string(&mut self, v: Self::Value) -> Result<String, Thrown> {
    Ok(v.to_rust_string_lossy(self.scope))
  }

  fn object(&mut self, v: Self::Value) -> Option<Self::Object> {
    v8::Local::<v8::Object>::try_from(v).ok()
  }

  fn get(&mut self, obj: Self::Object, name: &'static str) -> Result<Self::Value, Thrown> {
    let scope = &mut *self.scope;
    let key = v8::String::new(scope, name).ok_or_else(read_failed)?;
    v8::tc_scope!(let tc, scope);
    if let Some(v) = obj.get(tc, key.into()) {
      return Ok(v);
    }
    if tc.has_terminated() {
      tc.rethrow();
      return Err(read_failed());
    }
    // A getter threw: the call throws that exception (as it crosses any boundary).
    match tc.exception() {
      Some(e) => Err(v8_out::thrown(tc, e, None)),
      None => Err(read_failed()),
    }
  }

  fn external_copy(
    &mut self,
    v: Self::Value,
  ) -> Option<std::sync::Arc<crate::transfer::external::ExternalData>> {
    match crate::transfer::guest_handles::handle_of(self.scope, v)? {
      Ok(crate::transfer::handle::Handle::ExternalCopy(data)) => Some(data),
      _ => None,
    }
  }
}
