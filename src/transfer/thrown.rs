//! A value thrown across the boundary, as owned data.
//!
//! Errors travel between threads as [`Thrown`] values (plain owned data); they become real
//! JavaScript errors only at the edges (`bridge::js::throw` on Node's thread,
//! `transfer::v8_in::thrown` in a guest).

use crate::error::ErrorKind;
use crate::transfer::value::{JsString, Value};

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

/// Whether a TypeError with `message` is an argument-type error of a method's signature
/// ("`undefined` requires …", "Illegal invocation"): isolated-vm checks those before an async
/// method makes its promise, so they throw even there, while errors in option fields, transfers
/// and targets reject the promise.
pub fn is_signature_error(message: &str) -> bool {
  message.starts_with("`undefined` requires ") || message == "Illegal invocation"
}

impl Thrown {
  /// [`is_signature_error`] of this error.
  pub fn is_signature_error(&self) -> bool {
    matches!(self, Thrown::Error { kind: crate::error::ErrorKind::TypeError, message, stack: None, .. }
      if is_signature_error(&message.to_rust()))
  }
}

/// The frame lines of a JavaScript `stack` string: everything from the first line after the
/// header that starts with `    at ` (the header holds the message, which may span lines; none
/// of it belongs after a boundary marker). `None` when there are no frames.
pub fn frame_lines(stack: &str) -> Option<&str> {
  let (_, rest) = stack.split_once('\n')?;
  let mut offset = stack.len() - rest.len();
  for line in rest.split_inclusive('\n') {
    if line.starts_with("    at ") {
      return Some(&stack[offset..]);
    }
    offset += line.len();
  }
  None
}

#[cfg(test)]
mod tests {
  use super::frame_lines;

  #[test]
  fn frames_only() {
    assert_eq!(frame_lines("Error: A"), None);
    assert_eq!(frame_lines("Error: A\nB"), None);
    assert_eq!(
      frame_lines("Error: A\nB\n    at f (x.js:1:1)\n    at x.js:2:2"),
      Some("    at f (x.js:1:1)\n    at x.js:2:2")
    );
    assert_eq!(frame_lines("Error\n    at g"), Some("    at g"));
  }
}
