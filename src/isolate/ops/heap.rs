//! `getHeapStatistics()` of an isolate (SPEC §1.4), shared by the host's and the guests'
//! `Isolate` classes.

use crate::isolate::Runtime;
use std::sync::atomic::Ordering;

/// The fields in SPEC order (the host face's `heapStatistics` helper in `index.js` names them in
/// this order). The head-room granted near the memory limit is not reported as
/// available; externally allocated memory is what the isolate's ArrayBuffers hold.
pub fn statistics(rt: &mut Runtime) -> [(&'static str, f64); 10] {
  let s = rt.isolate.get_heap_statistics();
  let headroom = rt.memory().headroom.load(Ordering::Relaxed);
  let external = rt.memory().external.load(Ordering::Relaxed);
  [
    ("total_heap_size", s.total_heap_size() as f64),
    (
      "total_heap_size_executable",
      s.total_heap_size_executable() as f64,
    ),
    ("total_physical_size", s.total_physical_size() as f64),
    (
      "total_available_size",
      s.total_available_size().saturating_sub(headroom) as f64,
    ),
    ("used_heap_size", s.used_heap_size() as f64),
    (
      "heap_size_limit",
      s.heap_size_limit().saturating_sub(headroom) as f64,
    ),
    ("malloced_memory", s.malloced_memory() as f64),
    ("peak_malloced_memory", s.peak_malloced_memory() as f64),
    (
      "does_zap_garbage",
      if s.does_zap_garbage() { 1.0 } else { 0.0 },
    ),
    ("externally_allocated_size", external as f64),
  ]
}
