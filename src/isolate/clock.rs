//! CPU and wall time of an isolate's top-level jobs (`cpuTime`, `wallTime`).
//!
//! The thread CPU clock is a system call (no vDSO), about 0.3 µs each, and reading it before and
//! after every job doubled the cost of a short synchronous call. [`JobClock`] keeps it off the
//! caller's path for short jobs:
//!
//! * the start of a job is the previous reading (taken after the previous result was delivered)
//!   plus the time the thread spent polling for the job since, which is CPU time too; after a
//!   sleep the clock is read again (a wake-up costs far more than the read);
//! * a job that ran at least [`EXACT_AFTER`] reads the clock before its result goes out, so
//!   `cpuTime` is exact the moment the caller sees the result;
//! * a shorter job is counted as its wall time before delivery (so `cpuTime` grows with every
//!   call a caller can observe), and the exact figure read after delivery (less the time since
//!   the delivery began, which is not the job's) settles the difference:
//!   more is added, an over-count is held back from the following estimates, so `cpuTime` never
//!   goes down.

use super::thread::SharedState;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Jobs at least this long read the CPU clock before delivering their result.
const EXACT_AFTER: Duration = Duration::from_micros(50);

/// The calling thread's CPU time in ns (0 if the clock is unavailable).
pub fn thread_cpu_ns() -> u64 {
  let mut ts = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
  };
  // SAFETY: clock_gettime writes into the valid timespec we pass.
  let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
  if rc != 0 {
    return 0;
  }
  (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// Accounts the CPU and wall time of one isolate thread's top-level jobs.
pub struct JobClock {
  /// Thread CPU time at the last reading.
  mark: u64,
  /// CPU time counted in estimates beyond what the clock later showed.
  debt: u64,
}

/// A job being timed.
pub struct Running {
  cpu0: u64,
  wall0: Instant,
  counted: u64,
  /// When its result started going out (delivery is not the job's CPU time).
  delivering: Instant,
  /// Time the job spent running other code on this thread (a guest → guest sync call run
  /// inline with this isolate unlocked): not this isolate's CPU time.
  excluded: u64,
}

impl JobClock {
  /// Starts accounting on the isolate's thread.
  pub fn new() -> JobClock {
    JobClock {
      mark: thread_cpu_ns(),
      debt: 0,
    }
  }

  /// A job arrived after the thread polled for `polled` (and slept, if `slept`).
  pub fn start(&self, polled: Duration, slept: bool) -> Running {
    let cpu0 = if slept {
      thread_cpu_ns()
    } else {
      self.mark + polled.as_nanos() as u64
    };
    let now = Instant::now();
    Running {
      cpu0,
      wall0: now,
      counted: 0,
      delivering: now,
      excluded: 0,
    }
  }

  /// The job ran, `excluded` ns of it in code that is not this isolate's; its result is about
  /// to be delivered.
  pub fn before_delivery(&mut self, job: &mut Running, state: &SharedState, excluded: u64) {
    job.excluded = excluded;
    let wall = job.wall0.elapsed();
    state
      .wall_ns
      .fetch_add(wall.as_nanos() as u64, Ordering::Relaxed);
    let count = if wall >= EXACT_AFTER {
      thread_cpu_ns()
        .saturating_sub(job.cpu0)
        .saturating_sub(excluded)
    } else {
      let estimate = (wall.as_nanos() as u64).saturating_sub(excluded);
      let paid = estimate.min(self.debt);
      self.debt -= paid;
      estimate - paid
    };
    job.counted = count;
    state.cpu_ns.fetch_add(count, Ordering::Relaxed);
    job.delivering = Instant::now();
  }

  /// The result went out: reads the clock and settles the estimate. The time since the
  /// delivery began (handing over the result, this very reading) is taken off.
  pub fn after_delivery(&mut self, job: Running, state: &SharedState) {
    self.mark = thread_cpu_ns();
    let since = job.delivering.elapsed().as_nanos() as u64;
    let exact = self
      .mark
      .saturating_sub(job.cpu0)
      .saturating_sub(since)
      .saturating_sub(job.excluded);
    if exact > job.counted {
      let more = exact - job.counted;
      let paid = more.min(self.debt);
      self.debt -= paid;
      state.cpu_ns.fetch_add(more - paid, Ordering::Relaxed);
    } else {
      self.debt += job.counted - exact;
    }
  }
}

impl Default for JobClock {
  fn default() -> Self {
    JobClock::new()
  }
}
