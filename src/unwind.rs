//! Panic containment at the FFI boundaries: no panic may unwind out of a callback that Node-API
//! or V8 calls (Rust would abort the process there). Exported `#[napi]` functions are covered
//! by napi-rs's `catch_unwind` attribute; every other callback of ours runs its body through
//! [`contain`] or [`catch`], and V8 function callbacks through `guest::dispatch`, which throws
//! [`crate::error::msg::INTERNAL`] into the calling JavaScript.
//!
//! Any thread. Cheap when nothing panics (no allocation, no lock).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; if it panics, returns `fallback` instead (for callbacks that have no way to report
/// an error: finalisers, allocator hooks, GC callbacks).
pub fn contain<R>(fallback: R, f: impl FnOnce() -> R) -> R {
  catch(f).unwrap_or(fallback)
}

/// Runs `f`; if it panics, returns the error message to report instead ("Internal error in
/// isolated-vm-rs: " and the panic's message).
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
  // Unwind safety: after a panic the caller only reports it; state the panic may have left
  // half-updated is the panicking code's own (a failed isolate is disposed by its job runner).
  catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
    let text = crate::error::msg::internal(message(payload.as_ref()));
    // A payload whose destructor panics again must not escape either: leak it (panics are
    // rare and their payloads small).
    std::mem::forget(payload);
    text
  })
}

/// The text of a panic payload (`panic!` with a message gives a `&str` or a `String`).
fn message(payload: &(dyn Any + Send)) -> Option<&str> {
  if let Some(s) = payload.downcast_ref::<&'static str>() {
    return Some(s);
  }
  payload.downcast_ref::<String>().map(String::as_str)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn contain_returns_the_value_or_the_fallback() {
    assert_eq!(contain(0, || 1), 1);
    assert_eq!(contain(0, || -> i32 { panic!("boom") }), 0);
  }

  #[test]
  fn catch_reports_the_panic_message() {
    assert_eq!(catch(|| 1), Ok(1));
    assert_eq!(
      catch(|| -> i32 { panic!("boom {}", 1) }),
      Err("Internal error in isolated-vm-rs: boom 1".to_string())
    );
    assert_eq!(
      catch(|| -> i32 { std::panic::panic_any(7u8) }),
      Err("Internal error in isolated-vm-rs".to_string())
    );
  }
}
