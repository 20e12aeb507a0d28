//! Maps and sets keyed by the crate's own small integers (table ids, object addresses): a
//! one-multiply hash (FxHash's) instead of the standard SipHash, whose resistance to chosen keys
//! these keys do not need, since nothing outside the crate picks them. Every synchronous call
//! looks several of them up.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher behind [`IdMap`] and [`IdSet`].
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
  fn add(&mut self, n: u64) {
    self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SEED);
  }
}

impl Hasher for IdHasher {
  fn finish(&self) -> u64 {
    self.0
  }

  fn write(&mut self, bytes: &[u8]) {
    for chunk in bytes.chunks(8) {
      let mut word = [0u8; 8];
      word[..chunk.len()].copy_from_slice(chunk);
      self.add(u64::from_le_bytes(word));
    }
  }

  fn write_u32(&mut self, n: u32) {
    self.add(u64::from(n));
  }

  fn write_u64(&mut self, n: u64) {
    self.add(n);
  }

  fn write_usize(&mut self, n: usize) {
    self.add(n as u64);
  }
}

/// A `HashMap` keyed by crate-made integers.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A `HashSet` of crate-made integers.
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn sequential_ids_spread_over_the_table() {
    let mut m: IdMap<u32, u32> = IdMap::default();
    for i in 0..10_000 {
      m.insert(i, i * 2);
    }
    assert!((0..10_000).all(|i| m.get(&i) == Some(&(i * 2))));
    let tops: IdSet<u64> = (0..1000u32)
      .map(|i| {
        let mut h = IdHasher::default();
        h.write_u32(i);
        h.finish() >> 57
      })
      .collect();
    // The top seven bits (hashbrown's tag) take many values, not one.
    assert!(tops.len() > 100, "{}", tops.len());
  }
}
