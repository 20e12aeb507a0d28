//! The operations one thread asks of a value another thread holds: a guest of a host value
//! (run by `bridge::host_ref`), or Node / another isolate of an isolate's value (run by
//! [`crate::isolate::remote::perform`]).

use crate::transfer::options::TransferOptions;
use crate::transfer::value::Value;

/// What a guest asks of a host value.
pub enum HostOp {
  /// Call it.
  Apply {
    /// `this`.
    receiver: Value,
    /// Arguments.
    args: Vec<Value>,
    /// `result` transfer options.
    result: TransferOptions,
  },
  /// Structured clone of it.
  Copy,
  /// Read an own property (`accessors` allows getters); the result leaves per `result`.
  Get {
    /// The key (string or index number).
    key: Value,
    /// Allow accessors.
    accessors: bool,
    /// Walk the prototype chain (`unsafeInherit`).
    inherit: bool,
    /// Transfer options for the result.
    result: TransferOptions,
  },
  /// Define an own data property.
  Set {
    /// The key.
    key: Value,
    /// The value.
    value: Value,
  },
  /// Delete a property.
  Delete {
    /// The key.
    key: Value,
  },
}
