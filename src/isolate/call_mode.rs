//! How a function that crosses between threads waits when called (SPEC §2.7).

/// How a function crossing into an isolate behaves when called there (SPEC §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMode {
  /// Blocks and returns a copy of the result (default).
  Sync,
  /// Returns a promise of a copy of the result.
  Async,
  /// Returns `undefined`; results and errors are discarded.
  Ignored,
}
