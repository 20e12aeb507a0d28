//! Where options are read from: a napi object on Node's thread, a V8 object inside an isolate,
//! or a map in unit tests. The option schema ([`super`]) is written once against this trait.

use crate::transfer::thrown::Thrown;

/// The JavaScript type of a value, as far as option parsing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
  /// `undefined` (also an absent argument).
  Undefined,
  /// `null`.
  Null,
  /// A boolean.
  Bool,
  /// A number.
  Number,
  /// A string.
  String,
  /// A bigint.
  BigInt,
  /// A symbol.
  Symbol,
  /// An object that is not callable.
  Object,
  /// A function.
  Function,
}

impl Kind {
  /// An object or a function (something with properties).
  pub fn is_object(self) -> bool {
    matches!(self, Kind::Object | Kind::Function)
  }

  /// `undefined` or `null`: an option field that is absent (isolated-vm's `ReadOption`).
  pub fn is_nullish(self) -> bool {
    matches!(self, Kind::Undefined | Kind::Null)
  }
}

/// Read access to option objects and argument values of one face. Implementations exist for
/// napi values (`api::options`, Node's thread), V8 values (`isolate::options::v8_source`,
/// under the isolate's lock) and a map (unit tests). Every method is cheap; only [`get`]
/// may run JavaScript (a getter), and its exception comes back as `Self::Error`.
///
/// [`get`]: OptionSource::get
pub trait OptionSource {
  /// A value (argument or property value).
  type Value: Copy;
  /// An object whose properties can be read.
  type Object: Copy;
  /// A failure: built from the schema's [`Thrown`] errors, or a JS exception a getter threw.
  type Error: From<Thrown>;

  /// The type of `v`.
  fn kind(&mut self, v: Self::Value) -> Kind;
  /// `ToBoolean(v)` (truthiness).
  fn truthy(&mut self, v: Self::Value) -> bool;
  /// The number `v` holds (only called when `kind(v)` is [`Kind::Number`]).
  fn number(&mut self, v: Self::Value) -> f64;
  /// The string `v` holds (only called when `kind(v)` is [`Kind::String`]).
  fn string(&mut self, v: Self::Value) -> Result<String, Self::Error>;
  /// `v` as an object (`None` unless `kind(v)` is an object or a function).
  fn object(&mut self, v: Self::Value) -> Option<Self::Object>;
  /// `obj[name]` (runs getters).
  fn get(&mut self, obj: Self::Object, name: &'static str) -> Result<Self::Value, Self::Error>;
  /// The data of the ExternalCopy `v` is, `None` when it is none (or released).
  fn external_copy(
    &mut self,
    v: Self::Value,
  ) -> Option<std::sync::Arc<crate::transfer::external::ExternalData>>;
}
