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
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;
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

impl Running {
  /// The thread's CPU time (estimated) when the job started.
  pub fn cpu0(&self) -> u64 {
    self.cpu0
  }
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

/// The origin of the timestamps in [`Live`] (process-wide).
fn epoch() -> Instant {
  static EPOCH: OnceLock<Instant> = OnceLock::new();
  *EPOCH.get_or_init(Instant::now)
}

/// `t` as a [`Live`] timestamp (never 0, which means "no call").
fn stamp(t: Instant) -> u64 {
  t.saturating_duration_since(epoch()).as_nanos() as u64 + 1
}

/// The CPU clock of the calling thread, for reading it from other threads.
#[cfg(target_os = "linux")]
pub fn own_thread_clock() -> Option<libc::clockid_t> {
  let mut id: libc::clockid_t = 0;
  // SAFETY: pthread_self is this live thread; the id is written into a valid location.
  let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
  (rc == 0).then_some(id)
}

/// No per-thread clock readable from other threads here: the call's wall time stands in.
#[cfg(not(target_os = "linux"))]
pub fn own_thread_clock() -> Option<i32> {
  None
}

#[cfg(target_os = "linux")]
fn clock_ns(id: i64) -> u64 {
  let mut ts = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
  };
  // SAFETY: clock_gettime writes into the valid timespec; `id` is the CPU clock of an isolate
  // thread that is running a call (it outlives the call).
  let rc = unsafe { libc::clock_gettime(id as libc::clockid_t, &mut ts) };
  if rc != 0 {
    return 0;
  }
  (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

#[cfg(not(target_os = "linux"))]
fn clock_ns(_: i64) -> u64 {
  0
}

/// `cpu` of [`Live`] holds the call's CPU time so far.
const PUBLISHED: i64 = -1;
/// No CPU clock: the call's wall time so far stands in for its CPU time.
const WALL: i64 = -2;

/// The call in progress, so that `cpuTime` and `wallTime` include it (as isolated-vm's do) when
/// read during an async call (from Node) or from a host function that a sync call called. Any
/// thread reads it; the thread running the call writes it.
pub struct Live {
  /// When the call started ([`stamp`]), 0 when no call is in progress.
  since: AtomicU64,
  /// The isolate thread's CPU clock, or [`PUBLISHED`] / [`WALL`].
  clock: AtomicI64,
  /// The clock's reading at the start of the call (with a clock), or the call's CPU time so
  /// far ([`PUBLISHED`]).
  cpu: AtomicU64,
  /// The highest values handed out: a reading racing with the end of a call never goes down.
  seen_cpu: AtomicU64,
  seen_wall: AtomicU64,
}

impl Default for Live {
  fn default() -> Self {
    Live {
      since: AtomicU64::new(0),
      clock: AtomicI64::new(WALL),
      cpu: AtomicU64::new(0),
      seen_cpu: AtomicU64::new(0),
      seen_wall: AtomicU64::new(0),
    }
  }
}

impl Live {
  /// A call started at `at` on the isolate's thread, whose CPU clock (if readable) read `cpu0`.
  pub fn start(&self, at: Instant, clock: Option<i64>, cpu0: u64) {
    self.since.store(0, Ordering::SeqCst);
    self.clock.store(clock.unwrap_or(WALL), Ordering::SeqCst);
    self.cpu.store(cpu0, Ordering::SeqCst);
    self.since.store(stamp(at), Ordering::SeqCst);
  }

  /// A call that started at `at` has used `cpu` ns of CPU time so far (a sync call about to
  /// run a host function, which may read the times).
  pub fn publish(&self, at: Instant, cpu: u64) {
    self.since.store(0, Ordering::SeqCst);
    self.clock.store(PUBLISHED, Ordering::SeqCst);
    self.cpu.store(cpu, Ordering::SeqCst);
    self.since.store(stamp(at), Ordering::SeqCst);
  }

  /// The call ended (its times go into the totals right after).
  pub fn stop(&self) {
    self.since.store(0, Ordering::SeqCst);
  }

  /// `(cpuTime, wallTime)` in ns: the totals of `state` plus the call in progress.
  pub fn read(&self, state: &SharedState) -> (u64, u64) {
    let mut cpu = state.cpu_ns.load(Ordering::SeqCst);
    let mut wall = state.wall_ns.load(Ordering::SeqCst);
    let since = self.since.load(Ordering::SeqCst);
    if since != 0 {
      let elapsed = stamp(Instant::now()).saturating_sub(since);
      let clock = self.clock.load(Ordering::SeqCst);
      let base = self.cpu.load(Ordering::SeqCst);
      wall += elapsed;
      cpu += match clock {
        PUBLISHED => base,
        WALL => elapsed,
        id => clock_ns(id).saturating_sub(base),
      };
    }
    let cpu = self.seen_cpu.fetch_max(cpu, Ordering::SeqCst).max(cpu);
    let wall = self.seen_wall.fetch_max(wall, Ordering::SeqCst).max(wall);
    (cpu, wall)
  }
}
