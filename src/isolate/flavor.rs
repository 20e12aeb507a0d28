//! The flavour of a call, the one enum both faces and the engine use: a method's `foo` /
//! `fooSync` / `fooIgnored` variants, and how a function that crosses between threads behaves
//! when called (a `Callback`'s `{ async | sync | ignored }`, SPEC §2.7).

/// Which flavour of a call: what the caller gets and whether it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
  /// Blocks and returns the result (a crossing function's default).
  Sync,
  /// Returns a promise of the result.
  Async,
  /// Returns `undefined`; results and errors are discarded.
  Ignored,
}
