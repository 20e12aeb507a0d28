//! The error catalogue: every message the library itself produces, with its JavaScript class.
//!
//! Errors travel between threads as [`Thrown`] values (plain owned data); they become real
//! JavaScript errors only at the edges (`api::throw` on Node's thread, `transfer::v8_out` in a
//! guest). Texts follow SPEC.md §2.4 exactly, typos included.

use crate::transfer::value::{JsString, Value};

/// The JavaScript constructor an error is materialised with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
  /// `Error`
  Error,
  /// `RangeError`
  RangeError,
  /// `ReferenceError`
  ReferenceError,
  /// `SyntaxError`
  SyntaxError,
  /// `TypeError`
  TypeError,
}

impl ErrorKind {
  /// The global constructor name.
  pub fn name(self) -> &'static str {
    match self {
      ErrorKind::Error => "Error",
      ErrorKind::RangeError => "RangeError",
      ErrorKind::ReferenceError => "ReferenceError",
      ErrorKind::SyntaxError => "SyntaxError",
      ErrorKind::TypeError => "TypeError",
    }
  }

  /// The kind preserved for an error whose `name` is `name` (SPEC §2.3: only five survive).
  pub fn from_name(name: &str) -> Option<ErrorKind> {
    Some(match name {
      "Error" => ErrorKind::Error,
      "RangeError" => ErrorKind::RangeError,
      "ReferenceError" => ErrorKind::ReferenceError,
      "SyntaxError" => ErrorKind::SyntaxError,
      "TypeError" => ErrorKind::TypeError,
      _ => return None,
    })
  }
}

/// A value thrown across the boundary, as owned data.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Thrown {
  /// An `Error` object: rebuilt from its class, message and stack on the other side.
  #[error("{}: {}", kind.name(), message.to_rust())]
  Error {
    /// The constructor used on the receiving side.
    kind: ErrorKind,
    /// A `name` to set as a non-enumerable own property (kinds that are not preserved).
    name: Option<JsString>,
    /// The message.
    message: JsString,
    /// The guest's stack (`None` for errors produced by the library).
    stack: Option<JsString>,
  },
  /// A thrown primitive, delivered unchanged.
  #[error("a thrown primitive value")]
  Value(Value),
}

impl Thrown {
  /// A library error with no guest stack.
  pub fn new(kind: ErrorKind, message: impl Into<String>) -> Thrown {
    Thrown::Error {
      kind,
      name: None,
      message: JsString::from(message.into().as_str()),
      stack: None,
    }
  }

  /// `Error(message)`.
  pub fn error(message: impl Into<String>) -> Thrown {
    Thrown::new(ErrorKind::Error, message)
  }

  /// `TypeError(message)`.
  pub fn type_error(message: impl Into<String>) -> Thrown {
    Thrown::new(ErrorKind::TypeError, message)
  }

  /// `RangeError(message)`.
  pub fn range_error(message: impl Into<String>) -> Thrown {
    Thrown::new(ErrorKind::RangeError, message)
  }
}

/// Library messages (SPEC §2.4).
pub mod msg {
  /// `timeout` expired.
  pub const TIMED_OUT: &str = "Script execution timed out.";
  /// `dispose()` while the call was running.
  pub const DISPOSED_DURING: &str = "Isolate was disposed during execution";
  /// The memory limit was hit during the call.
  pub const DISPOSED_MEMORY: &str = "Isolate was disposed during execution due to memory limit";
  /// Async call on a disposed isolate, or a queued call dropped by disposal.
  pub const DISPOSED: &str = "Isolate is disposed";
  /// Sync call on a disposed isolate (sic).
  pub const DISPOSED_SYNC: &str = "Isolated is disposed";
  /// Second `dispose()`.
  pub const ALREADY_DISPOSED: &str = "Isolate is already disposed";
  /// A value the call site cannot transfer.
  pub const NON_TRANSFERABLE: &str = "A non-transferable value was passed";
  /// More than one of the exclusive transfer options.
  pub const EXCLUSIVE_TRANSFER: &str =
    "Only one of `copy`, `externalCopy`, or `reference` may be set";
  /// A thrown object that is not an Error.
  pub const NON_ERROR_THROWN: &str = "An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.";
  /// Context used after release.
  pub const CONTEXT_RELEASED: &str = "Context is released";
  /// Script used after release.
  pub const SCRIPT_RELEASED: &str = "Script has been released";
  /// Reference used after release.
  pub const REFERENCE_RELEASED: &str = "Reference has been released";
  /// Script run in a context of another isolate.
  pub const INVALID_CONTEXT: &str = "Invalid context";
  /// Property access on a non-object Reference.
  pub const NOT_OBJECT: &str = "Reference is not an object";
  /// Property key of the wrong type.
  pub const INVALID_KEY: &str = "Invalid `key`";
  /// Accessor met without `accessors: true`.
  pub const PROPERTY_IS_GETTER: &str = "Property is getter";
  /// A proxy on the object or its prototype chain.
  pub const HAS_PROXY: &str = "Object is or has proxy";
  /// `set` could not define the property.
  pub const SET_FAILED: &str = "Set failed";
  /// `delete` failed.
  pub const DELETE_FAILED: &str = "Delete failed";
  /// `deref` from a foreign isolate.
  pub const CANNOT_DEREF: &str = "Cannot dereference this from current isolate";
  /// A SharedArrayBuffer created inside an isolate, arriving in Node (see the README).
  pub const FOREIGN_SAB: &str =
    "A SharedArrayBuffer created inside an isolate cannot be shared with Node.js (Node-API cannot wrap foreign shared memory)";
  /// Private constructor called.
  pub fn private_ctor(class: &str) -> String {
    format!("`{class}` constructor is private")
  }
  /// A constructor called without `new`.
  pub fn needs_new(class: &str) -> String {
    format!("`{class}` must be called with `new`")
  }
  /// A value that structured clone rejects.
  pub fn could_not_clone(what: &str) -> String {
    format!("{what} could not be cloned.")
  }
}
