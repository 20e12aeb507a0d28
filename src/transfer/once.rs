//! Settle exactly once: the one primitive behind every "this outcome is delivered once, and a
//! job dropped unsettled reports why" type (a Node promise of an async call, a guest promise
//! waiting for another isolate, the guard of a `promise: true` export).
//!
//! A [`SettleOnce`] owns the receiving end (its [`Sink`]). [`SettleOnce::settle`] consumes it
//! and hands the outcome over; dropping it unsettled (the job that held it was dropped by a
//! disposal, its isolate went away) hands over what its `unsettled` function makes instead
//! ("Isolate is disposed", "Promise was abandoned"…). Either way the sink receives exactly one
//! outcome. It moves to whichever thread settles it (when the sink is `Send`).

/// Where a [`SettleOnce`] delivers its outcome.
pub trait Sink<T> {
  /// Takes the outcome (called exactly once per sink).
  fn put(self, outcome: T);
}

impl<T> Sink<T> for Box<dyn FnOnce(T) + Send> {
  fn put(self, outcome: T) {
    self(outcome)
  }
}

/// Delivers exactly one outcome to its sink: the one given to [`SettleOnce::settle`], or the one
/// `unsettled` makes when dropped unsettled. Any thread its sink may be used on.
pub struct SettleOnce<T, S: Sink<T>> {
  sink: Option<S>,
  unsettled: fn() -> T,
}

thread_local! {
  /// Why calls dropped unsettled on this thread were dropped, if not a plain disposal.
  static DROP_REASON: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// The message a call dropped unsettled on this thread reports: "Isolate is disposed", or the
/// reason set by [`with_drop_reason`] (an isolate lost to a catastrophe fails its queued calls
/// with the memory-limit error).
pub fn dropped_message() -> &'static str {
  DROP_REASON
    .with(|r| r.get())
    .unwrap_or(crate::error::msg::DISPOSED)
}

/// Runs `f` (which drops unsettled calls) with `reason` as their message on this thread.
pub fn with_drop_reason<R>(reason: &'static str, f: impl FnOnce() -> R) -> R {
  let before = DROP_REASON.with(|r| r.replace(Some(reason)));
  let out = f();
  DROP_REASON.with(|r| r.set(before));
  out
}

impl<T, S: Sink<T>> SettleOnce<T, S> {
  /// A pending settler for `sink`; `unsettled` makes the outcome reported if it is dropped
  /// before [`settle`](Self::settle).
  pub fn new(sink: S, unsettled: fn() -> T) -> Self {
    SettleOnce {
      sink: Some(sink),
      unsettled,
    }
  }

  /// Delivers `outcome` (on the calling thread).
  pub fn settle(mut self, outcome: T) {
    if let Some(sink) = self.sink.take() {
      sink.put(outcome);
    }
  }
}

impl<T, S: Sink<T>> Drop for SettleOnce<T, S> {
  fn drop(&mut self) {
    if let Some(sink) = self.sink.take() {
      sink.put((self.unsettled)());
    }
  }
}

impl<T, S: Sink<T>> std::fmt::Debug for SettleOnce<T, S> {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("SettleOnce")
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;
  use crate::transfer::thrown::Thrown;
  use crate::transfer::value::Value;

  type Outcome = Result<Value, Thrown>;
  type Settler = SettleOnce<Outcome, Box<dyn FnOnce(Outcome) + Send>>;

  fn disposed() -> Outcome {
    Err(Thrown::error(crate::error::msg::DISPOSED))
  }

  /// A settler whose outcomes arrive on a channel.
  fn channel() -> (Settler, crossbeam_channel::Receiver<Outcome>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let sink: Box<dyn FnOnce(Outcome) + Send> = Box::new(move |o| tx.send(o).unwrap());
    (SettleOnce::new(sink, disposed), rx)
  }

  fn message(o: Outcome) -> String {
    match o {
      Err(Thrown::Error { message, .. }) => message.to_rust(),
      other => panic!("not an error: {other:?}"),
    }
  }

  #[test]
  fn settles_once() {
    let (once, rx) = channel();
    once.settle(Ok(Value::Number(1.0)));
    assert_eq!(rx.try_recv().unwrap().unwrap(), Value::Number(1.0));
    // Settling consumed it: nothing more arrives, not even the disposal report.
    assert!(rx.try_recv().is_err());
  }

  #[test]
  fn dropped_unsettled_reports_disposal() {
    let (once, rx) = channel();
    drop(once);
    assert_eq!(message(rx.try_recv().unwrap()), crate::error::msg::DISPOSED);
    assert!(rx.try_recv().is_err());
  }

  #[test]
  fn settles_from_another_thread() {
    let (once, rx) = channel();
    let here = std::thread::current().id();
    let (seen_tx, seen_rx) = crossbeam_channel::unbounded();
    let sink: Box<dyn FnOnce(Outcome) + Send> = Box::new(move |o| {
      seen_tx.send(std::thread::current().id()).unwrap();
      once.settle(o);
    });
    let relay = SettleOnce::new(sink, disposed);
    std::thread::spawn(move || relay.settle(Ok(Value::Bool(true))))
      .join()
      .unwrap();
    assert_ne!(seen_rx.try_recv().unwrap(), here);
    assert_eq!(rx.try_recv().unwrap().unwrap(), Value::Bool(true));
  }

  #[test]
  fn dropped_on_another_thread_reports_there() {
    let (once, rx) = channel();
    std::thread::spawn(move || drop(once)).join().unwrap();
    assert_eq!(message(rx.try_recv().unwrap()), crate::error::msg::DISPOSED);
  }
}
