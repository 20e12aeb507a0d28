//! The owned, `Send` value tree that carries data between Node's thread and isolate threads.
//!
//! It depends on nothing: the napi side (`bridge::convert`) and the V8 side (`transfer::v8_in`,
//! `transfer::v8_out`) each translate to and from it. Compound values carry an `id` in visit
//! order so that cycles and shared sub-objects survive as [`Value::Backref`].

/// The deepest nesting any converter follows; deeper structures fail with a RangeError like
/// a stack overflow in JavaScript would (converters recurse on native stacks).
pub const MAX_DEPTH: u32 = 2000;

/// The error for structures nested deeper than [`MAX_DEPTH`].
pub const TOO_DEEP: &str = "Maximum call stack size exceeded";

/// A JavaScript string, kept in the narrowest exact encoding (lone surrogates survive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsString {
  /// Every code unit fits in one byte (ISO-8859-1).
  Latin1(Vec<u8>),
  /// UTF-16 code units.
  Utf16(Vec<u16>),
}

impl JsString {
  /// Lossy conversion for messages and diagnostics.
  pub fn to_rust(&self) -> String {
    match self {
      JsString::Latin1(b) => b.iter().map(|&c| c as char).collect(),
      JsString::Utf16(u) => String::from_utf16_lossy(u),
    }
  }

  /// Length in UTF-16 code units.
  pub fn len(&self) -> usize {
    match self {
      JsString::Latin1(b) => b.len(),
      JsString::Utf16(u) => u.len(),
    }
  }

  /// True for the empty string.
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  /// Builds the narrowest representation of UTF-16 code units.
  pub fn from_utf16(units: Vec<u16>) -> JsString {
    if units.iter().all(|&u| u < 256) {
      JsString::Latin1(units.into_iter().map(|u| u as u8).collect())
    } else {
      JsString::Utf16(units)
    }
  }
}

impl From<&str> for JsString {
  fn from(s: &str) -> JsString {
    if s.bytes().all(|b| b < 128) {
      JsString::Latin1(s.as_bytes().to_vec())
    } else {
      JsString::from_utf16(s.encode_utf16().collect())
    }
  }
}

/// A property key of a copied object or array.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
  /// An array index.
  Index(u32),
  /// Any other string key.
  Name(JsString),
}

/// Element type of a typed array or DataView.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
  /// `Int8Array`
  Int8,
  /// `Uint8Array`
  Uint8,
  /// `Uint8ClampedArray`
  Uint8Clamped,
  /// `Int16Array`
  Int16,
  /// `Uint16Array`
  Uint16,
  /// `Int32Array`
  Int32,
  /// `Uint32Array`
  Uint32,
  /// `Float16Array`
  Float16,
  /// `Float32Array`
  Float32,
  /// `Float64Array`
  Float64,
  /// `BigInt64Array`
  BigInt64,
  /// `BigUint64Array`
  BigUint64,
  /// `DataView`
  DataView,
}

impl ViewKind {
  /// Bytes per element (1 for DataView, whose length is in bytes).
  pub fn element_size(self) -> usize {
    match self {
      ViewKind::Int8 | ViewKind::Uint8 | ViewKind::Uint8Clamped | ViewKind::DataView => 1,
      ViewKind::Int16 | ViewKind::Uint16 | ViewKind::Float16 => 2,
      ViewKind::Int32 | ViewKind::Uint32 | ViewKind::Float32 => 4,
      ViewKind::Float64 | ViewKind::BigInt64 | ViewKind::BigUint64 => 8,
    }
  }

  /// The global constructor name.
  pub fn ctor_name(self) -> &'static str {
    match self {
      ViewKind::Int8 => "Int8Array",
      ViewKind::Uint8 => "Uint8Array",
      ViewKind::Uint8Clamped => "Uint8ClampedArray",
      ViewKind::Int16 => "Int16Array",
      ViewKind::Uint16 => "Uint16Array",
      ViewKind::Int32 => "Int32Array",
      ViewKind::Uint32 => "Uint32Array",
      ViewKind::Float16 => "Float16Array",
      ViewKind::Float32 => "Float32Array",
      ViewKind::Float64 => "Float64Array",
      ViewKind::BigInt64 => "BigInt64Array",
      ViewKind::BigUint64 => "BigUint64Array",
      ViewKind::DataView => "DataView",
    }
  }
}

/// A wrapper object around a primitive (`new Number(1)` and friends).
#[derive(Debug, Clone, PartialEq)]
pub enum Boxed {
  /// `new Number(n)`
  Number(f64),
  /// `new String(s)`
  String(JsString),
  /// `new Boolean(b)`
  Bool(bool),
  /// `Object(1n)`
  BigInt(BigInt),
}

/// An arbitrary-precision integer as sign and little-endian 64-bit words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigInt {
  /// True when negative.
  pub negative: bool,
  /// Magnitude, least significant word first.
  pub words: Vec<u64>,
}

/// Error data inside a copied value (an `Error` object as a property, not thrown).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorData {
  /// Constructor name to use on the receiving side (one of the preserved five or `Error`).
  pub ctor: &'static str,
  /// Own `name` when it differs from the constructor's.
  pub name: Option<JsString>,
  /// The message.
  pub message: JsString,
  /// The stack, if it was a string.
  pub stack: Option<JsString>,
}

pub use crate::transfer::handle::Handle;

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
  /// `undefined`
  Undefined,
  /// `null`
  Null,
  /// A boolean.
  Bool(bool),
  /// A number (int32/uint32 are exact in f64).
  Number(f64),
  /// A BigInt.
  BigInt(BigInt),
  /// A string.
  String(JsString),
  /// The compound value with this id, already seen earlier in the tree.
  Backref(u32),
  /// A plain object (class instances arrive as plain objects).
  Object {
    /// Visit-order id.
    id: u32,
    /// Own enumerable string-keyed properties.
    props: Vec<(Key, Value)>,
  },
  /// An array, possibly sparse.
  Array {
    /// Visit-order id.
    id: u32,
    /// `length`.
    length: u32,
    /// Own enumerable properties, indices included.
    props: Vec<(Key, Value)>,
  },
  /// A Date.
  Date {
    /// Visit-order id.
    id: u32,
    /// Milliseconds since the epoch.
    time: f64,
  },
  /// A RegExp.
  RegExp {
    /// Visit-order id.
    id: u32,
    /// `source`.
    source: JsString,
    /// `flags`.
    flags: JsString,
  },
  /// A Map.
  Map {
    /// Visit-order id.
    id: u32,
    /// Entries in insertion order.
    entries: Vec<(Value, Value)>,
  },
  /// A Set.
  Set {
    /// Visit-order id.
    id: u32,
    /// Values in insertion order.
    values: Vec<Value>,
  },
  /// A boxed primitive.
  Boxed {
    /// Visit-order id.
    id: u32,
    /// The primitive inside.
    inner: Boxed,
  },
  /// An ArrayBuffer's bytes.
  ArrayBuffer {
    /// Visit-order id.
    id: u32,
    /// Contents.
    bytes: Vec<u8>,
  },
  /// A typed array or DataView over a buffer (an `ArrayBuffer` or a `Backref` to one).
  View {
    /// Visit-order id.
    id: u32,
    /// Element type.
    kind: ViewKind,
    /// The underlying buffer.
    buffer: Box<Value>,
    /// Offset into the buffer in bytes.
    byte_offset: usize,
    /// Length in elements (bytes for DataView).
    length: usize,
  },
  /// An Error object.
  Error {
    /// Visit-order id.
    id: u32,
    /// Its data.
    data: Box<ErrorData>,
  },
  /// An ivm handle.
  Handle(Handle),
}

impl Value {
  /// Approximate heap size of the tree in bytes (for `ExternalCopy.totalExternalSize`).
  pub fn size(&self) -> usize {
    let props = |p: &[(Key, Value)]| -> usize {
      p.iter()
        .map(|(k, v)| {
          v.size()
            + match k {
              Key::Index(_) => 8,
              Key::Name(n) => 16 + n.len() * 2,
            }
        })
        .sum()
    };
    std::mem::size_of::<Value>()
      + match self {
        Value::String(s) => s.len() * 2,
        Value::BigInt(b) => b.words.len() * 8,
        Value::Object { props: p, .. } | Value::Array { props: p, .. } => props(p),
        Value::RegExp { source, flags, .. } => (source.len() + flags.len()) * 2,
        Value::Map { entries, .. } => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
        Value::Set { values, .. } => values.iter().map(Value::size).sum(),
        Value::ArrayBuffer { bytes, .. } => bytes.len(),
        Value::View { buffer, .. } => buffer.size(),
        Value::Error { data, .. } => {
          (data.message.len() + data.stack.as_ref().map_or(0, JsString::len)) * 2
        }
        _ => 0,
      }
  }

  /// True for values that are copied by default at every call site (SPEC §2.2 rule 3).
  pub fn is_primitive(&self) -> bool {
    matches!(
      self,
      Value::Undefined
        | Value::Null
        | Value::Bool(_)
        | Value::Number(_)
        | Value::BigInt(_)
        | Value::String(_)
    )
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;

  #[test]
  fn strings_pick_narrowest_encoding() {
    assert_eq!(JsString::from("abc"), JsString::Latin1(b"abc".to_vec()));
    assert_eq!(JsString::from("é"), JsString::Latin1(vec![0xe9]));
    assert!(matches!(JsString::from("€"), JsString::Utf16(_)));
    assert_eq!(JsString::from("€").to_rust(), "€");
    let lone = JsString::from_utf16(vec![0xd800]);
    assert_eq!(lone.len(), 1);
  }

  #[test]
  fn primitives_are_primitive() {
    assert!(Value::Number(1.0).is_primitive());
    assert!(!Value::Backref(0).is_primitive());
    assert!(!Value::Object {
      id: 0,
      props: vec![]
    }
    .is_primitive());
  }

  #[test]
  fn view_sizes() {
    assert_eq!(ViewKind::Float64.element_size(), 8);
    assert_eq!(ViewKind::DataView.element_size(), 1);
    assert_eq!(ViewKind::Uint8Clamped.ctor_name(), "Uint8ClampedArray");
  }
}
