//! The isolate thread, its job queue and the thread-safe [`IsolateHost`] handle.

use super::clock::{JobClock, Running};
use super::gate::{Entry, Pass};
use super::limits::MemoryState;
use super::runtime::{Core, Runtime};
use crate::error::msg;
use crate::platform::tasks::Task;
use crate::transfer::thrown::Thrown;
use parking_lot::Mutex;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// A unit of work for an isolate's thread (phase 2 of a task). It returns the delivery of its
/// result, which runs after the job's CPU and wall time have been accounted. Dropping a job
/// unrun must settle its caller (jobs carry completers whose `Drop` reports the disposal).
pub type Job = Box<dyn FnOnce(&mut Runtime) -> Deliver + Send>;

/// Sends a job's result to its caller; runs on the isolate thread right after the job.
pub type Deliver = Box<dyn FnOnce()>;

enum Msg {
  /// A call, with its place in the order calls were queued (see [`SharedState::posted`]).
  Job(Job, u64),
  /// A synchronous call handed to the isolate's thread (its caller waits): also served while
  /// the thread waits for another thread, unlike async jobs, which keep their FIFO order.
  Sync(Job, u64),
  /// V8 posted foreground tasks for this isolate (in [`SharedState::tasks`]; see
  /// [`crate::platform::tasks`]).
  Tasks,
  Stop,
}

/// The longest a disposal waits for the isolate's thread to finish.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a disposal on another thread waits for the running call to let go of the isolate
/// (it was terminated) before it leaves the teardown to the isolate's own thread.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Options for a new isolate, already validated.
#[derive(Debug, Clone)]
pub struct IsolateOptions {
  /// Memory limit in bytes.
  pub memory_limit: usize,
  /// `importModuleDynamically`: the function a guest's `import()` calls (asynchronously),
  /// made by the face that read the option.
  pub import_hook: Option<crate::isolate::handle::Handle>,
}

/// Where the V8 isolate goes after a disposal on another thread tore it down.
enum Handover {
  /// The isolate's thread will look here before it ends.
  Open,
  /// Handed over: the isolate's thread frees it.
  Handed(Arc<v8::SharedIsolate>),
  /// The isolate's thread has looked for the last time: the disposing thread frees it.
  Closed,
}

/// State shared between an isolate's thread and every other thread.
pub struct SharedState {
  /// True once disposal started (by `dispose()`, the memory limit, or a failure).
  pub disposed: AtomicBool,
  /// Memory accounting.
  pub memory: Arc<MemoryState>,
  /// CPU time spent running jobs, in ns.
  pub cpu_ns: AtomicU64,
  /// Wall time spent running jobs, in ns.
  pub wall_ns: AtomicU64,
  /// The call in progress, for live `cpuTime` / `wallTime` ([`SharedState::times`]).
  pub live: super::clock::Live,
  /// The CPU clock of the isolate's thread (as an `i64`), once it started.
  thread_clock: std::sync::OnceLock<i64>,
  /// Live remote handles owned by this isolate (`referenceCount`).
  pub handles: AtomicUsize,
  /// Id source for handle tables.
  pub next_id: AtomicU32,
  /// The Node environment (its key) this isolate's thread is blocked on, or 0.
  pub waiting_on_host: AtomicUsize,
  /// The isolate's own handle, for References it hands out to other threads.
  pub host: std::sync::OnceLock<std::sync::Weak<IsolateHost>>,
  /// Jobs queued and not yet started.
  queued: AtomicUsize,
  /// The isolate's thread has taken a job from the queue and not finished it yet.
  busy: AtomicBool,
  /// Set while the isolate's thread holds the lock for the job it took (so `busy` without it:
  /// taken, not started).
  started: AtomicBool,
  /// Calls queued so far: each queued call's number (counted under the sender's lock, so in
  /// queue order).
  posted: AtomicU64,
  /// The number of the last call the isolate's thread finished. When the isolate is idle, the
  /// call under way once something is queued is number `done + 1`: a disposal runs that one
  /// itself, and only that one, whoever else took a message meanwhile.
  done: AtomicU64,
  /// The disposal ran the call under way itself: a job the thread takes afterwards was queued
  /// behind it and has not started.
  disposal_ran_job: AtomicBool,
  /// The number of the call under way when a disposal found the isolate idle (`done + 1`
  /// then), or 0 when it found a call running. The isolate's thread, having just finished the
  /// call before it, goes on to that call instead of ending.
  idle_under_way: AtomicU64,
  /// Synchronous calls running inline on other threads: they run V8's tasks before they let
  /// go of the lock, so a new task need not wake the isolate's thread meanwhile.
  pub(super) inline_callers: AtomicUsize,
  /// `onCatastrophicError`, if given.
  pub on_catastrophe: std::sync::OnceLock<super::catastrophe::Hook>,
  /// Foreground tasks V8 posted for this isolate, oldest first.
  tasks: Mutex<std::collections::VecDeque<Task>>,
  /// Table entries whose last remote handle was dropped, released by whoever next holds the
  /// isolate's lock (an inline call, or the isolate's thread woken like for V8's tasks).
  releases: Mutex<Vec<u32>>,
  /// `releases` is not empty.
  has_releases: AtomicBool,
  /// Async jobs that arrived while the running job waited for another thread (a host function,
  /// `applySyncPromise`, another isolate): they run after it, before anything queued later.
  deferred: Mutex<std::collections::VecDeque<(Job, u64)>>,
  /// Whether `deferred` may hold jobs (read without its lock).
  has_deferred: AtomicBool,
  sender: Mutex<Option<crossbeam_channel::Sender<Msg>>>,
  /// The isolate, torn down by a disposal on another thread and handed to the isolate's own
  /// thread for V8 to free (see [`IsolateHost::shutdown`]).
  released: Mutex<Handover>,
  /// The way into the isolate's V8 lock, for every thread ([`super::gate`]).
  pub gate: super::gate::Gate,
}

impl SharedState {
  /// Queues a job on this isolate from any thread (FIFO with every other call). Returns the
  /// job back if the isolate is disposed.
  pub fn post(&self, job: Job) -> Result<(), Job> {
    self.post_msg(job, false)
  }

  /// Queues the phase 2 of a synchronous call whose caller waits for it: in order with the
  /// other calls, but also served while the isolate's running job waits for another thread.
  pub fn post_sync(&self, job: Job) -> Result<(), Job> {
    self.post_msg(job, true)
  }

  fn post_msg(&self, job: Job, sync: bool) -> Result<(), Job> {
    let guard = self.sender.lock();
    if self.disposed.load(Ordering::SeqCst) {
      return Err(job);
    }
    match guard.as_ref() {
      Some(tx) => {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let seq = self.posted.fetch_add(1, Ordering::SeqCst) + 1;
        let msg = if sync {
          Msg::Sync(job, seq)
        } else {
          Msg::Job(job, seq)
        };
        tx.send(msg).map_err(|e| {
          self.queued.fetch_sub(1, Ordering::SeqCst);
          match e.0 {
            Msg::Job(j, _) | Msg::Sync(j, _) => j,
            Msg::Stop | Msg::Tasks => Box::new(|_: &mut Runtime| -> Deliver { Box::new(|| {}) }),
          }
        })
      }
      None => Err(job),
    }
  }

  /// Jobs queued and not yet started. A synchronous call runs inline only when there are none,
  /// so it comes after the async calls its caller queued before it.
  pub fn queued_jobs(&self) -> usize {
    self.queued.load(Ordering::SeqCst)
  }

  /// Whether V8 posted tasks, or handles asked for releases, that have not run yet.
  pub fn has_tasks(&self) -> bool {
    self.has_releases.load(Ordering::SeqCst) || !self.tasks.lock().is_empty()
  }

  /// Releases table entry `id` once its last remote handle is gone (any thread). Not a job in
  /// the queue: a release must not make the next synchronous call wait behind it (handles are
  /// dropped by Node's GC at any time). Whoever next holds the lock releases it; the isolate's
  /// thread is woken for it when no inline call is under way.
  pub fn release_later(&self, id: u32) {
    self.add_work(|| {
      let mut r = self.releases.lock();
      r.push(id);
      self.has_releases.store(true, Ordering::SeqCst);
      r.len() == 1
    });
  }

  /// Adds work for whoever next holds the lock (`add` returns whether the list it added to was
  /// empty): unless the isolate is disposed (checked under the sender's lock, so nothing is
  /// added after its teardown), and waking the isolate's thread for the first such work when no
  /// inline call, which runs it before letting go of the lock, is under way.
  fn add_work(&self, add: impl FnOnce() -> bool) {
    let guard = self.sender.lock();
    if self.disposed.load(Ordering::SeqCst) {
      return;
    }
    if add() && self.inline_callers.load(Ordering::SeqCst) == 0 {
      if let Some(tx) = guard.as_ref() {
        let _ = tx.send(Msg::Tasks);
      }
    }
  }

  /// Takes the releases asked for.
  fn take_releases(&self) -> Vec<u32> {
    if !self.has_releases.swap(false, Ordering::SeqCst) {
      return Vec::new();
    }
    std::mem::take(&mut *self.releases.lock())
  }

  /// Wakes the isolate's thread for the tasks left (after an inline call, which runs only
  /// nestable ones).
  pub fn wake_for_tasks(&self) {
    let guard = self.sender.lock();
    if self.has_tasks() {
      if let Some(tx) = guard.as_ref() {
        let _ = tx.send(Msg::Tasks);
      }
    }
  }

  /// Keeps an async job that arrived while the running job waited, for after it.
  fn defer(&self, job: Job, seq: u64) {
    self.deferred.lock().push_back((job, seq));
    self.has_deferred.store(true, Ordering::SeqCst);
  }

  /// The oldest deferred job, if any.
  fn take_deferred(&self) -> Option<(Job, u64)> {
    if !self.has_deferred.load(Ordering::SeqCst) {
      return None;
    }
    let mut d = self.deferred.lock();
    let job = d.pop_front();
    if d.is_empty() {
      self.has_deferred.store(false, Ordering::SeqCst);
    }
    job
  }

  /// `(cpuTime, wallTime)` in ns, including the call in progress. Any thread.
  pub fn times(&self) -> (u64, u64) {
    self.live.read(self)
  }

  /// A fresh table id.
  pub fn new_id(&self) -> u32 {
    self.next_id.fetch_add(1, Ordering::Relaxed)
  }
}

/// The thread-safe handle to an isolate. Any thread may hold and use it; after dispose, posting
/// fails and the jobs' completers report the error.
pub struct IsolateHost {
  /// Shared flags and counters.
  pub state: Arc<SharedState>,
  thread: Mutex<Option<JoinHandle<()>>>,
  /// The V8 isolate, lockable from any thread; dropped at disposal.
  shared: Mutex<Option<Arc<v8::SharedIsolate>>>,
  exited: crossbeam_channel::Receiver<()>,
  thread_id: std::thread::ThreadId,
  /// The job queue, for a disposal that runs the call already under way (see `shutdown`).
  queue: crossbeam_channel::Receiver<Msg>,
}

impl IsolateHost {
  /// Creates the isolate on its own new thread and waits until it exists.
  pub fn spawn(
    options: IsolateOptions,
    on_catastrophe: Option<super::catastrophe::Hook>,
  ) -> Result<Arc<IsolateHost>, Thrown> {
    crate::platform::ensure_initialized();
    super::catastrophe::install();
    let memory = MemoryState::new(options.memory_limit);
    let state = Arc::new(SharedState {
      disposed: AtomicBool::new(false),
      memory: memory.clone(),
      cpu_ns: AtomicU64::new(0),
      wall_ns: AtomicU64::new(0),
      live: super::clock::Live::default(),
      thread_clock: std::sync::OnceLock::new(),
      handles: AtomicUsize::new(0),
      next_id: AtomicU32::new(1),
      waiting_on_host: AtomicUsize::new(0),
      host: std::sync::OnceLock::new(),
      queued: AtomicUsize::new(0),
      busy: AtomicBool::new(false),
      started: AtomicBool::new(false),
      posted: AtomicU64::new(0),
      done: AtomicU64::new(0),
      disposal_ran_job: AtomicBool::new(false),
      idle_under_way: AtomicU64::new(0),
      inline_callers: AtomicUsize::new(0),
      on_catastrophe: std::sync::OnceLock::new(),
      tasks: Mutex::new(std::collections::VecDeque::new()),
      releases: Mutex::new(Vec::new()),
      has_releases: AtomicBool::new(false),
      deferred: Mutex::new(std::collections::VecDeque::new()),
      has_deferred: AtomicBool::new(false),
      sender: Mutex::new(None),
      released: Mutex::new(Handover::Open),
      gate: super::gate::Gate::default(),
    });
    if let Some(hook) = on_catastrophe {
      let _ = state.on_catastrophe.set(hook);
    }
    let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
    *state.sender.lock() = Some(tx);
    let queue = rx.clone();
    // The isolate is made here, on the caller's thread, with its first context (isolated-vm
    // makes its default context in `new Isolate()` too): nothing waits for another thread to
    // be scheduled, which on a busy machine costs more than the work.
    let shared = {
      let (mut isolate, core) = super::runtime::create(state.clone(), options);
      isolate.set_slot(JobQueue(rx.clone()));
      crate::platform::tasks::register(&isolate, task_sink(&state));
      Runtime::new(&mut isolate, core.clone()).default_context();
      // Rc handles into the isolate's state are only touched under its lock from now on.
      drop(core);
      // SAFETY: the isolate was created on this thread and is entered here; it has no weak
      // handles, finalizers, snapshot creator or C++ heap. Converting exits it, so the
      // caller's own isolate (Node's) is the current one again.
      match unsafe { isolate.try_into_shared() } {
        Ok(shared) => Arc::new(shared),
        Err(_) => return Err(Thrown::error("Failed to create isolate")),
      }
    };
    let v8_handle = shared.thread_safe_handle();
    let _ = memory.handle.set(v8_handle);
    let (exit_tx, exited) = crossbeam_channel::bounded::<()>(1);
    let thread_state = state.clone();
    let thread_shared = shared.clone();
    let thread = std::thread::Builder::new()
      .name("ivm-isolate".into())
      .stack_size(8 << 20)
      .spawn(move || {
        if let Some(id) = super::clock::own_thread_clock() {
          let _ = thread_state.thread_clock.set(i64::from(id));
        }
        super::catastrophe::set_home(&thread_state);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
          // The IsolateHost owns the isolate; this thread upgrades a weak handle for each
          // job, so a disposal can tear the isolate down on the disposing thread.
          let weak = Arc::downgrade(&thread_shared);
          drop(thread_shared);
          serve(&weak, &rx, &thread_state);
          // A lost isolate is never locked or freed again.
          let lost = super::catastrophe::is_lost(&thread_state);
          // Torn down here even after a disposal on another thread did it: a call this thread
          // had taken before the disposal may have finished after that teardown.
          let teardown_here = |shared: Arc<v8::SharedIsolate>| {
            // Lost meanwhile (a catastrophe in a synchronous call on another thread): never
            // locked or freed again.
            let Ok(_pass) = Pass::new(&thread_state.gate, None) else {
              std::mem::forget(shared);
              return;
            };
            let mut locker = shared.lock();
            teardown(&mut locker, &thread_state);
            drop(locker);
            // The isolate itself goes with the last Arc: this one, or one a caller on another
            // thread holds for a moment.
            drop(shared);
          };
          if let Some(shared) = weak.upgrade().filter(|_| !lost) {
            teardown_here(shared);
          }
          // Last look for an isolate handed over by a disposal (then the last Arc is here).
          let handed = std::mem::replace(&mut *thread_state.released.lock(), Handover::Closed);
          if let Handover::Handed(shared) = handed {
            if lost {
              std::mem::forget(shared);
            } else {
              teardown_here(shared);
            }
          }
        }));
        let _ = result;
        // No job can be queued after this: posting checks the flag under the sender's lock.
        thread_state.disposed.store(true, Ordering::SeqCst);
        drop(thread_state.sender.lock().take());
        // Settle whatever is still queued (after a catastrophe, with the memory-limit error).
        let reason = if super::catastrophe::is_lost(&thread_state) {
          msg::DISPOSED_MEMORY
        } else {
          msg::DISPOSED
        };
        crate::transfer::once::with_drop_reason(reason, || {
          // Calls deferred behind a running one too (the teardown that drops them is skipped
          // for an isolate lost to a catastrophe).
          while let Some(deferred) = thread_state.take_deferred() {
            drop(deferred);
          }
          while let Ok(m) = rx.try_recv() {
            drop(m);
          }
        });
        // The isolate's pages went to V8's pool, for the next isolate to reuse; they go back
        // to the system once disposals pause.
        crate::platform::pool::release_when_idle();
        let _ = exit_tx.send(());
      })
      .map_err(|e| Thrown::error(format!("Failed to start isolate thread: {e}")))?;
    let thread_id = thread.thread().id();
    let host = Arc::new(IsolateHost {
      state,
      thread: Mutex::new(Some(thread)),
      shared: Mutex::new(Some(shared)),
      exited,
      thread_id,
      queue,
    });
    let _ = host.state.host.set(Arc::downgrade(&host));
    Ok(host)
  }

  /// Queues a job (FIFO). Returns the job back if the isolate is disposed.
  pub fn post(&self, job: Job) -> Result<(), Job> {
    self.state.post(job)
  }

  /// Queues a synchronous call's phase 2 ([`SharedState::post_sync`]).
  pub fn post_sync(&self, job: Job) -> Result<(), Job> {
    self.state.post_sync(job)
  }

  /// The lockable V8 isolate, until disposal.
  pub fn shared(&self) -> Option<Arc<v8::SharedIsolate>> {
    self.shared.lock().clone()
  }

  /// Forgets the V8 isolate without freeing it (it was lost to a catastrophe: nobody may
  /// lock it again).
  pub fn forget_isolate(&self) {
    if let Some(shared) = self.shared.lock().take() {
      std::mem::forget(shared);
    }
  }

  /// True once disposal started.
  pub fn is_disposed(&self) -> bool {
    self.state.disposed.load(Ordering::SeqCst)
  }

  /// True when called on this isolate's own thread.
  pub fn is_current_thread(&self) -> bool {
    std::thread::current().id() == self.thread_id
  }

  /// Disposes the isolate: terminates the running job, drops queued ones and ends the thread.
  /// Fails with "Isolate is already disposed" the second time.
  pub fn dispose(&self) -> Result<(), Thrown> {
    if self.state.disposed.swap(true, Ordering::SeqCst) {
      return Err(Thrown::error(msg::ALREADY_DISPOSED));
    }
    self.shutdown();
    Ok(())
  }

  /// Ends the thread (idempotent; used by dispose and environment cleanup). V8 frees the
  /// isolate on its thread, after this returns.
  pub fn shutdown(&self) {
    self.end(false);
  }

  /// Ends the thread; with `free_here` (the last handle to the isolate went: Node's garbage
  /// collector collected it), V8 frees the isolate on this thread before this returns, and
  /// V8's pool hands its pages back to the system, so that collection frees its memory.
  fn end(&self, free_here: bool) {
    // A call issued while the isolate was idle is already running in isolated-vm (a pool
    // thread took it at once): it is run below rather than dropped with the queued ones.
    // `busy` before `done`: the thread counts a call done before it clears `busy`, so an
    // isolate found idle shows its last finished call.
    let idle = !self.state.busy.load(Ordering::SeqCst)
      && self.state.inline_callers.load(Ordering::SeqCst) == 0;
    let done = self.state.done.load(Ordering::SeqCst);
    if idle {
      self.state.idle_under_way.store(done + 1, Ordering::SeqCst);
    }
    self.state.disposed.store(true, Ordering::SeqCst);
    self.state.memory.terminate();
    // No job can be queued from now on.
    let sender = self.state.sender.lock().take();
    let shared = self.shared.lock().take();
    if let Some(shared) = shared {
      if !self.is_current_thread() && super::inline::can_lock_here() {
        // Tear the isolate down right here (a running call stops at the termination). The
        // isolate's thread is told only afterwards (its channel closes): woken earlier, it
        // would contend for the lock, and on a busy machine it can be preempted holding it.
        // A running call that does not stop at the termination (V8 code that never checks
        // for interrupts) keeps the isolate past `LOCK_WAIT`: the isolate's thread then tears
        // it down once that call ends, and this thread does not wait for it. An isolate lost
        // to a catastrophe meanwhile is never locked or freed again.
        let _pass = match Pass::new(&self.state.gate, Some(Instant::now() + LOCK_WAIT)) {
          Ok(pass) => pass,
          Err(Entry::Lost) => {
            std::mem::forget(shared);
            return;
          }
          Err(_) => {
            self.hand_over(shared);
            if let Some(tx) = sender {
              let _ = tx.send(Msg::Stop);
            }
            return;
          }
        };
        let mut locker = shared.lock();
        // The isolate's thread took the call issued while the isolate was idle and waits for
        // the lock: that call is under way, and that thread runs it (it sees the disposal) and
        // then tears the isolate down; it keeps the isolate until then.
        if self.state.busy.load(Ordering::SeqCst) && !self.state.started.load(Ordering::SeqCst) {
          drop(locker);
          self.hand_over(shared);
          drop(sender);
          return;
        }
        // The thread may have taken that call (and been stopped in it) before this thread got
        // the lock: then the calls behind it have not started.
        if idle {
          self.run_started(&mut locker, done + 1);
          // That call ran into a catastrophe: the isolate is never touched or freed again.
          if super::catastrophe::is_lost(&self.state) {
            super::catastrophe::abandon(&self.state, locker);
            std::mem::forget(shared);
            return;
          }
        }
        teardown(&mut locker, &self.state);
        // Nothing can run in the isolate any more. What remains is V8's own teardown (about a
        // quarter of a millisecond, most of it freeing its C++ heap's pages): unless it is to
        // happen here, the isolate's thread does it, woken by its channel closing, and exits.
        if !free_here {
          // Once the thread has ended its work (Closed), V8 frees the isolate on this thread.
          self.hand_over(shared.clone());
        }
        let heap = if free_here {
          locker.get_heap_statistics().total_physical_size()
        } else {
          0
        };
        drop(locker);
        // The last Arc (unless a caller on another thread holds one for a moment): V8 frees
        // the isolate here, its pages going to V8's pool.
        drop(shared);
        drop(sender);
        if free_here {
          crate::platform::pool::freed(heap);
        }
        return;
      }
      // The isolate's thread tears it down, and first runs a call issued while the isolate was
      // idle, which counts as started (it takes that call before the stop, and sees the
      // disposal); it keeps the isolate until then.
      self.hand_over(shared);
    }
    if let Some(tx) = sender {
      let _ = tx.send(Msg::Stop);
    }
    // Otherwise wait for the thread to finish (so the isolate's memory is gone when dispose
    // returns), but never while it waits for a host (possibly this very thread), and never for
    // long: a disposal must not hang. Otherwise the thread finishes on its own. Not when the
    // last handle went (`free_here`): Node's garbage collector may be running this (Node-API
    // finalizers run inside it), and an isolate disposed before ends on its own.
    let waiting = self.state.waiting_on_host.load(Ordering::SeqCst) != 0;
    if !free_here
      && !self.is_current_thread()
      && !waiting
      && self.exited.recv_timeout(SHUTDOWN_WAIT).is_ok()
    {
      if let Some(t) = self.thread.lock().take() {
        let _ = t.join();
      }
    }
  }
}

impl IsolateHost {
  /// Hands `shared` to the isolate's thread, which tears the isolate down when it ends; once
  /// that thread has ended (the hand-over is closed), `shared` is dropped here.
  fn hand_over(&self, shared: Arc<v8::SharedIsolate>) {
    let mut released = self.state.released.lock();
    if matches!(*released, Handover::Open) {
      *released = Handover::Handed(shared);
    }
  }

  /// Runs the job at the head of the queue (a call issued while the isolate was idle, which
  /// counts as started) on this thread during a disposal: it finishes as a call running at the
  /// disposal does (a run fails with "Isolate was disposed during execution"; creating a
  /// context or compiling still completes). `isolate` is locked by this thread.
  fn run_started(&self, isolate: &mut v8::Isolate, under_way: u64) {
    // A deferred call is the oldest one waiting: it is the one under way.
    let (job, seq) = match self.state.take_deferred() {
      Some((job, _)) => (job, under_way),
      None => match self.queue.try_recv() {
        Ok(Msg::Job(job, seq) | Msg::Sync(job, seq)) => (job, seq),
        _ => return,
      },
    };
    self.state.queued.fetch_sub(1, Ordering::SeqCst);
    if seq != under_way {
      // The isolate's thread took the call under way (and runs it as such, stopped); this one
      // was queued behind it and never starts ("Isolate is disposed").
      return;
    }
    self.state.disposal_ran_job.store(true, Ordering::SeqCst);
    let Some(core) = isolate.get_slot::<Rc<Core>>().cloned() else {
      return;
    };
    run_job(isolate, &core, job, None, None);
  }
}

/// Releases everything the isolate holds, under its lock, before the isolate itself goes:
/// no more V8 tasks are accepted (the task sink checks the flag under the sender's lock) and
/// queued ones are dropped while their isolate still exists; every V8 handle of the tables goes.
/// Idempotent (the disposing thread and the isolate's thread may both run it).
fn teardown(isolate: &mut v8::Isolate, state: &SharedState) {
  {
    let _sender = state.sender.lock();
    state.disposed.store(true, Ordering::SeqCst);
  }
  crate::platform::tasks::unregister(isolate);
  state.tasks.lock().clear();
  state.take_releases();
  // Deferred jobs go unrun (their callers hear of the disposal).
  let deferred = std::mem::take(&mut *state.deferred.lock());
  state.has_deferred.store(false, Ordering::SeqCst);
  drop(deferred);
  if let Some(core) = isolate.get_slot::<Rc<Core>>().cloned() {
    core.clear();
  }
}

impl Drop for IsolateHost {
  fn drop(&mut self) {
    self.end(true);
  }
}

/// How long an isolate thread keeps polling for the next job before it sleeps. Back-to-back
/// calls (a loop of `evalSync`, or `await eval` chains) then skip the wake-up of a sleeping
/// thread, which costs tens of microseconds; an idle isolate sleeps after this.
/// `IVM_JOB_SPIN_US` overrides it (benchmarking).
pub fn job_spin() -> std::time::Duration {
  static SPIN: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
  *SPIN.get_or_init(|| spin_from_env("IVM_JOB_SPIN_US", 60))
}

/// A duration in µs from the environment, or the default.
pub fn spin_from_env(name: &str, default_us: u64) -> std::time::Duration {
  let us = std::env::var(name)
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(default_us);
  std::time::Duration::from_micros(us)
}

/// Receives from `rx`, polling for up to `spin` before blocking; also tells whether it slept.
pub fn recv_spinning<T>(
  rx: &crossbeam_channel::Receiver<T>,
  spin: std::time::Duration,
) -> Result<(T, bool), crossbeam_channel::RecvError> {
  if let Some(r) = super::spin::spin(spin, || super::spin::try_recv(rx)) {
    return r.map(|m| (m, false));
  }
  rx.recv().map(|m| (m, true))
}

/// The isolate's job queue, reachable from callbacks (for jobs served while the thread waits).
struct JobQueue(crossbeam_channel::Receiver<Msg>);

/// Where V8's foreground tasks for this isolate go: its task list, with a wake-up for its thread
/// behind the jobs already queued. Dropped unrun once the isolate is disposed.
fn task_sink(state: &Arc<SharedState>) -> crate::platform::tasks::Sink {
  let state = Arc::downgrade(state);
  Arc::new(move |task| {
    let Some(state) = state.upgrade() else { return };
    state.add_work(|| {
      let mut tasks = state.tasks.lock();
      tasks.push_back(task);
      tasks.len() == 1
    });
  })
}

/// Runs the foreground tasks V8 posted for this isolate, each followed by the microtasks it
/// queued (a WebAssembly compilation settling its promise, say, whose handlers deliver a
/// `promise: true` result). With `nested`, inside a job or a wait, non-nestable tasks stay for
/// later. Rejections left unhandled by such work belong to no call and are forgotten.
pub fn run_tasks(isolate: &mut v8::Isolate, core: &Rc<Core>, nested: bool) {
  let state = core.state.clone();
  // Under a landing point of this isolate's own, like the tasks below: the caller may be a
  // thread inside another isolate's unlocked window.
  let released = super::catastrophe::guarded(&state, || run_releases(isolate, core));
  if released.is_err() {
    return;
  }
  let mut skipped = std::collections::VecDeque::new();
  loop {
    if state.disposed.load(Ordering::SeqCst) {
      break;
    }
    let Some(task) = state.tasks.lock().pop_front() else {
      break;
    };
    if nested && !task.nestable {
      skipped.push_back(task);
      continue;
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
      super::catastrophe::guarded(&state, || {
        task.task.run();
        if !isolate.is_execution_terminating() {
          isolate.perform_microtask_checkpoint();
        }
      })
    }));
    if super::catastrophe::is_lost(&state) {
      // The isolate is gone; the caller abandons it.
      return;
    }
    if !nested {
      core.forget_rejections();
    }
    if outcome.is_err() || state.memory.exceeded.load(Ordering::SeqCst) {
      state.disposed.store(true, Ordering::SeqCst);
    }
  }
  if !skipped.is_empty() {
    let mut tasks = state.tasks.lock();
    while let Some(t) = skipped.pop_back() {
      tasks.push_front(t);
    }
  }
}

/// Releases the table entries whose handles were dropped (under the isolate's lock).
pub fn run_releases(isolate: &mut v8::Isolate, core: &Rc<Core>) {
  let ids = core.state.take_releases();
  if ids.is_empty() {
    return;
  }
  let mut rt = Runtime::new(isolate, core.clone());
  for id in ids {
    super::ops::context::release(&mut rt, id);
  }
}

/// Runs one job; returns whether the isolate failed. Top-level jobs are timed (nested ones run
/// inside a timed job already).
fn run_job(
  isolate: &mut v8::Isolate,
  core: &Rc<Core>,
  job: Job,
  mut timing: Option<(&mut JobClock, Running)>,
  finished: Option<u64>,
) -> bool {
  let state = core.state.clone();
  let elsewhere0 = core.host_ns.get();
  let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
    let mut rt = Runtime::new(isolate, core.clone());
    // Jobs that settle a caller guard their own work (see `runner`), so their completers
    // survive a catastrophe; this one catches the rest.
    super::catastrophe::guarded(&state, || job(&mut rt)).unwrap_or_else(|_| Box::new(|| {}))
  }));
  if let Some((clock, running)) = timing.as_mut() {
    state.live.stop();
    let elsewhere = core.host_ns.get().saturating_sub(elsewhere0);
    clock.before_delivery(running, &state, elsewhere);
  }
  let failed = outcome.is_err() || state.memory.exceeded.load(Ordering::SeqCst);
  if failed {
    state.disposed.store(true, Ordering::SeqCst);
  }
  // The call counts as finished before its caller hears of it: a call the caller issues on
  // hearing it finds the isolate idle (and is under way if a disposal follows at once).
  if let Some(seq) = finished {
    state.done.fetch_max(seq, Ordering::SeqCst);
    state.started.store(false, Ordering::SeqCst);
    state.busy.store(false, Ordering::SeqCst);
  }
  if let Ok(deliver) = outcome {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(deliver));
  }
  if let Some((clock, running)) = timing {
    clock.after_delivery(running, &state);
  }
  failed
}

fn serve(
  shared: &std::sync::Weak<v8::SharedIsolate>,
  rx: &crossbeam_channel::Receiver<Msg>,
  state: &SharedState,
) {
  let mut clock = JobClock::new();
  // Polling before sleeping pays off after a call (the next one often follows at once), not
  // after V8's tasks or releases, which come on their own.
  let mut spin = job_spin();
  loop {
    let polling = Instant::now();
    let msg = match state.take_deferred() {
      Some((job, seq)) => Ok((Msg::Job(job, seq), false)),
      None => recv_spinning(rx, spin),
    };
    spin = match &msg {
      Ok((Msg::Tasks, _)) => std::time::Duration::ZERO,
      _ => job_spin(),
    };
    let (msg, slept) = match msg {
      Ok((Msg::Stop, _)) | Err(_) => break,
      Ok(m) => m,
    };
    if super::catastrophe::home_lost() {
      break;
    }
    let seq = match &msg {
      Msg::Job(_, seq) | Msg::Sync(_, seq) => {
        state.busy.store(true, Ordering::SeqCst);
        *seq
      }
      _ => 0,
    };
    let Some(shared) = shared.upgrade() else {
      break;
    };
    let _pass = match Pass::new(&state.gate, None) {
      Ok(pass) => pass,
      Err(_) => {
        // Lost to a catastrophe in a synchronous call on another thread.
        crate::transfer::once::with_drop_reason(msg::DISPOSED_MEMORY, || drop(msg));
        break;
      }
    };
    let mut locker = shared.lock();
    if seq != 0 {
      state.started.store(true, Ordering::SeqCst);
    }
    let Some(core) = locker.get_slot::<Rc<Core>>().cloned() else {
      break;
    };
    if core.state.disposed.load(Ordering::SeqCst) {
      // A job taken before the disposal is under way: it finishes as such a call does,
      // unless the disposal ran the call under way itself (this one was queued behind it and
      // is dropped as "Isolate is disposed").
      if let Msg::Job(job, _) | Msg::Sync(job, _) = msg {
        core.state.queued.fetch_sub(1, Ordering::SeqCst);
        if !core.state.disposal_ran_job.load(Ordering::SeqCst) {
          run_job(&mut locker, &core, job, None, None);
        }
      }
      break;
    }
    match msg {
      Msg::Job(job, _) | Msg::Sync(job, _) => {
        core.state.queued.fetch_sub(1, Ordering::SeqCst);
        let running = clock.start(polling.elapsed(), slept);
        let thread_clock = core.state.thread_clock.get().copied();
        core
          .state
          .live
          .start(Instant::now(), thread_clock, running.cpu0());
        let failed = run_job(
          &mut locker,
          &core,
          job,
          Some((&mut clock, running)),
          Some(seq),
        );
        if failed || core.state.disposed.load(Ordering::SeqCst) {
          // Disposed after this call finished, its caller already told: the next call, issued
          // to an idle isolate, is under way; taken next, it finishes as such (see above).
          let next_under_way =
            core.state.idle_under_way.load(Ordering::SeqCst) == seq + 1 && !failed;
          if next_under_way && !super::catastrophe::is_lost(&core.state) {
            continue;
          }
          abandon_if_lost(&core, locker);
          break;
        }
        // Non-nestable tasks that arrived while the job waited in a nested loop.
        if core.state.has_tasks() {
          run_tasks(&mut locker, &core, false);
        }
      }
      Msg::Tasks => run_tasks(&mut locker, &core, false),
      Msg::Stop => break,
    }
    if super::catastrophe::is_lost(&core.state) {
      abandon_if_lost(&core, locker);
      break;
    }
  }
}

/// Gives the isolate up if a catastrophe took it (its lock stays held, its memory allocated).
fn abandon_if_lost(core: &Rc<Core>, locker: v8::Locker<'_>) {
  if super::catastrophe::is_lost(&core.state) {
    super::catastrophe::abandon(&core.state, locker);
  }
}

/// Waits for `reply` on the isolate's thread while serving the synchronous calls handed to the
/// isolate, so a host that calls back synchronously into this isolate (while the isolate waits
/// for that host) is served instead of deadlocking. Async jobs arriving meanwhile wait for the
/// running job (per-isolate FIFO, as in isolated-vm: deferred, then run before anything queued
/// later). `isolate` comes from the scope of the waiting callback; nested jobs open their own
/// scopes on it.
pub fn serve_while_waiting<T>(
  isolate: &mut v8::Isolate,
  reply: &crossbeam_channel::Receiver<T>,
) -> Result<T, crossbeam_channel::RecvError> {
  let queue = isolate.get_slot::<JobQueue>().map(|q| q.0.clone());
  let core = isolate.get_slot::<Rc<Core>>().cloned();
  let (Some(queue), Some(core)) = (queue, core) else {
    return reply.recv();
  };
  core.pause_timers();
  let out = wait_serving_jobs(isolate, &core, &queue, reply);
  core.resume_timers();
  out
}

fn wait_serving_jobs<T>(
  isolate: &mut v8::Isolate,
  core: &Rc<Core>,
  queue: &crossbeam_channel::Receiver<Msg>,
  reply: &crossbeam_channel::Receiver<T>,
) -> Result<T, crossbeam_channel::RecvError> {
  // Poll briefly first: host answers usually come back within microseconds, and a sleeping
  // thread costs a wake-up per call. A queued job ends the polling.
  let polled = super::spin::spin(job_spin(), || match super::spin::try_recv(reply) {
    super::spin::Poll::Idle if !queue.is_empty() => super::spin::Poll::Block,
    p => p,
  });
  if let Some(r) = polled {
    return r;
  }
  enum Woken<T> {
    Reply(Result<T, crossbeam_channel::RecvError>),
    Queue(Result<Msg, crossbeam_channel::RecvError>),
  }
  loop {
    // Blocked with the isolate unlocked: a caller on another thread (Node's, running the host
    // function this thread waits for) may take the lock and run a synchronous call inline.
    let woken = super::inline::unlocked(isolate, || {
      crossbeam_channel::select! {
        recv(reply) -> v => Woken::Reply(v),
        recv(queue) -> msg => Woken::Queue(msg),
      }
    });
    match woken {
      Woken::Reply(v) => return v,
      Woken::Queue(msg) => match msg {
        Ok(Msg::Job(job, seq)) => {
          // An async call waits for the running one (per-isolate FIFO, as in isolated-vm).
          core.state.defer(job, seq);
        }
        Ok(Msg::Sync(job, seq)) => {
          // Run now, inside the running call: it is finished before that one.
          core.state.done.fetch_max(seq, Ordering::SeqCst);
          core.state.queued.fetch_sub(1, Ordering::SeqCst);
          if core.state.disposed.load(Ordering::SeqCst) {
            drop(job);
          } else {
            run_job(isolate, core, job, None, None);
          }
        }
        Ok(Msg::Tasks) => run_tasks(isolate, core, true),
        // Disposal: the outer job is being terminated; just wait for the answer.
        Ok(Msg::Stop) | Err(_) => return super::inline::unlocked(isolate, || reply.recv()),
      },
    }
    if super::catastrophe::is_lost(&core.state) {
      // A nested job lost the isolate: the waiting V8 frames are abandoned.
      super::catastrophe::escape();
    }
  }
}
