//! Polling briefly before blocking: an answer from another thread usually arrives within
//! microseconds, and putting a thread to sleep and waking it costs tens of microseconds (far more
//! on a busy machine). Every wait loop of the crate that polls first uses [`spin`].

use std::time::{Duration, Instant};

/// What one poll found.
pub enum Poll<T> {
  /// The awaited value.
  Ready(T),
  /// Nothing yet.
  Idle,
  /// Nothing yet, but the poll did some work (served a request): more usually follows, so the
  /// polling window starts again.
  Worked,
  /// Stop polling and block now.
  Block,
}

/// Calls `poll` until it is ready (`Some`), asks to block, or `window` passes without work
/// (`None`: the caller blocks in its own way).
pub fn spin<T>(window: Duration, mut poll: impl FnMut() -> Poll<T>) -> Option<T> {
  let mut start = Instant::now();
  let mut rounds = 0u32;
  loop {
    match poll() {
      Poll::Ready(v) => return Some(v),
      Poll::Block => return None,
      Poll::Worked => {
        start = Instant::now();
        rounds = 0;
        continue;
      }
      Poll::Idle => {}
    }
    rounds += 1;
    // Reading the clock costs more than a poll: look at it every 64 rounds.
    if rounds.is_multiple_of(64) && start.elapsed() >= window {
      return None;
    }
    std::hint::spin_loop();
  }
}

/// A channel's `try_recv` as a [`Poll`].
pub fn try_recv<T>(
  rx: &crossbeam_channel::Receiver<T>,
) -> Poll<Result<T, crossbeam_channel::RecvError>> {
  match rx.try_recv() {
    Ok(v) => Poll::Ready(Ok(v)),
    Err(crossbeam_channel::TryRecvError::Disconnected) => {
      Poll::Ready(Err(crossbeam_channel::RecvError))
    }
    Err(crossbeam_channel::TryRecvError::Empty) => Poll::Idle,
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn ready_value_is_returned() {
    let (tx, rx) = crossbeam_channel::unbounded();
    tx.send(5).unwrap_or_default();
    assert!(matches!(
      spin(Duration::from_millis(10), || try_recv(&rx)),
      Some(Ok(5))
    ));
  }

  #[test]
  fn gives_up_after_the_window() {
    let (_tx, rx) = crossbeam_channel::unbounded::<u8>();
    let t = Instant::now();
    assert!(spin(Duration::from_micros(200), || try_recv(&rx)).is_none());
    assert!(t.elapsed() >= Duration::from_micros(200));
  }

  #[test]
  fn block_stops_at_once_and_work_restarts_the_window() {
    assert!(spin::<()>(Duration::from_secs(60), || Poll::Block).is_none());
    let mut n = 0;
    let out = spin(Duration::from_micros(1), || {
      n += 1;
      if n < 1000 {
        Poll::Worked
      } else {
        Poll::Ready(n)
      }
    });
    assert_eq!(out, Some(1000));
  }

  #[test]
  fn disconnected_channel_is_ready_with_an_error() {
    let (tx, rx) = crossbeam_channel::unbounded::<u8>();
    drop(tx);
    assert!(matches!(
      spin(Duration::from_millis(10), || try_recv(&rx)),
      Some(Err(_))
    ));
  }
}
