//! The one operation type of References: what a Reference method asks of the value it refers
//! to, read from the arguments by either face. A value of an isolate is operated on by
//! [`crate::isolate::ops::reference::perform`] (on the owner's thread, whoever asks: Node or
//! another isolate); a value of Node's heap by `bridge::host_ref` (asked by a guest, or by the
//! host face itself).

use crate::transfer::options::TransferOptions;
use crate::transfer::value::Value;

/// An operation on a referenced value.
pub enum RefOp {
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
