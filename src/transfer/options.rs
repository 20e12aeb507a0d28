//! Transfer options (`copy`, `externalCopy`, `reference`, `promise`), parsed and validated.

use crate::error::msg;
use crate::transfer::thrown::Thrown;

/// How a value should cross the boundary at one call site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferOptions {
  /// `copy: true`: structured clone.
  pub copy: bool,
  /// `externalCopy: true`: arrive as an ExternalCopy.
  pub external_copy: bool,
  /// `reference: true`: arrive as a Reference.
  pub reference: bool,
  /// `promise: true`: settle a promise with the eventual value.
  pub promise: bool,
}

impl TransferOptions {
  /// Validates the mutual exclusion of `copy`, `externalCopy` and `reference`.
  pub fn new(
    copy: bool,
    external_copy: bool,
    reference: bool,
    promise: bool,
  ) -> Result<Self, Thrown> {
    if [copy, external_copy, reference]
      .iter()
      .filter(|b| **b)
      .count()
      > 1
    {
      return Err(Thrown::type_error(msg::EXCLUSIVE_TRANSFER));
    }
    Ok(TransferOptions {
      copy,
      external_copy,
      reference,
      promise,
    })
  }
}

/// What a call site does with a value that no option and no default rule covers (SPEC §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
  /// `eval*`, `run*`: silently `undefined`.
  Undefined,
  /// `evalClosure*`, `apply*` arguments, `set*`: TypeError "A non-transferable value was passed".
  Throw,
  /// `get*`, `apply*` results: a Reference.
  Reference,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;

  #[test]
  fn exclusive_options() {
    assert!(TransferOptions::new(true, false, false, true).is_ok());
    let e = TransferOptions::new(true, true, false, false).unwrap_err();
    match e {
      Thrown::Error { message, .. } => assert_eq!(message.to_rust(), msg::EXCLUSIVE_TRANSFER),
      _ => panic!("wrong error"),
    }
  }
}
