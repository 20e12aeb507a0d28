//! Wire bytes → a flat "tape" that `index.js` (`decodeTape`) turns into host objects faster
//! than Node's own deserialiser: opcodes and their operands in one `Uint32Array`, numbers
//! (and dates) in one `Float64Array`, every string in one text, property names sent once. An
//! object is `[OBJECT, count, shape]`: the shape id names its key sequence so the decoder can
//! build repeated shapes with one object literal ([`NO_SHAPE`]: the keys include an index, or
//! a back reference inside points at the object, which must then exist before its values). It covers the plain-data subset (primitives, strings, objects,
//! arrays, dates, back references); anything else answers an error and the caller uses Node's
//! deserialiser.

use super::{Reader, Slot, WireError};
use crate::transfer::value::MAX_DEPTH;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Opcodes shared with `decodeTape` in index.js.
mod op {
  pub const UNDEFINED: u32 = 0;
  pub const NULL: u32 = 1;
  pub const TRUE: u32 = 2;
  pub const FALSE: u32 = 3;
  pub const NUMBER: u32 = 4;
  pub const STRING: u32 = 5;
  pub const OBJECT: u32 = 6;
  pub const NEW_KEY: u32 = 7;
  pub const KEY: u32 = 8;
  pub const INDEX: u32 = 9;
  pub const DENSE: u32 = 10;
  pub const HOLE: u32 = 11;
  pub const SPARSE: u32 = 12;
  pub const BACKREF: u32 = 13;
  pub const DATE: u32 = 14;
}

/// The shape of an object that the decoder must build step by step.
pub const NO_SHAPE: u32 = u32::MAX;

/// Every string of a tape, in order.
pub enum Text {
  /// All one-byte.
  Latin1(Vec<u8>),
  /// Widened at the first two-byte string.
  Utf16(Vec<u16>),
}

/// The flat form of a value.
pub struct Tape {
  /// Opcodes and their operands.
  pub ops: Vec<u32>,
  /// The numbers, in order (NUMBER and DATE take the next one).
  pub nums: Vec<f64>,
  /// The strings, sliced off in order by length.
  pub text: Text,
}

/// FNV-1a: property names are short, and the default hasher costs more than the lookup saves.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
  fn finish(&self) -> u64 {
    self.0
  }
  fn write(&mut self, bytes: &[u8]) {
    let mut h = if self.0 == 0 {
      0xcbf2_9ce4_8422_2325
    } else {
      self.0
    };
    for &b in bytes {
      h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    self.0 = h;
  }
}

/// Transcodes wire bytes that hold only the plain-data subset.
pub fn tape(bytes: &[u8]) -> Result<Tape, WireError> {
  let mut w = Writer {
    r: Reader::new(bytes, &[])?,
    ops: Vec::with_capacity(bytes.len() / 2),
    nums: Vec::new(),
    text: Text::Latin1(Vec::with_capacity(bytes.len() / 2)),
    keys: HashMap::default(),
    key_bytes: Vec::new(),
    shapes: HashMap::default(),
    last: vec![(u32::MAX, 0)],
    open: Vec::new(),
  };
  w.value(0)?;
  if w.r.buf[w.r.pos..].iter().any(|&b| b != 0) {
    return Err("trailing bytes");
  }
  Ok(Tape {
    ops: w.ops,
    nums: w.nums,
    text: w.text,
  })
}

struct Writer<'a> {
  r: Reader<'a>,
  ops: Vec<u32>,
  nums: Vec<f64>,
  text: Text,
  keys: HashMap<(u8, &'a [u8]), u32, BuildHasherDefault<Fnv>>,
  /// The names by key id.
  key_bytes: Vec<(u8, &'a [u8])>,
  /// Shape ids: (shape so far, next key) → shape; shape 0 is the empty object.
  shapes: HashMap<(u32, u32), u32, BuildHasherDefault<Fnv>>,
  /// The last transition taken from each shape (key, next): most shapes have one.
  last: Vec<(u32, u32)>,
  /// Objects and arrays being written (their ids), innermost last, and whether a back
  /// reference inside points at them (then the decoder must create them before their values).
  open: Vec<(u32, bool)>,
}

/// What the decoder needs to know about an object's keys.
struct Props {
  count: u32,
  /// The shape id, or [`NO_SHAPE`] when the keys include an index.
  shape: u32,
}

impl<'a> Writer<'a> {
  fn value(&mut self, depth: u32) -> Result<(), WireError> {
    if depth >= MAX_DEPTH {
      return Err("too deep");
    }
    let depth = depth + 1;
    match self.r.tag()? {
      b'_' => self.ops.push(op::UNDEFINED),
      b'0' => self.ops.push(op::NULL),
      b'T' => self.ops.push(op::TRUE),
      b'F' => self.ops.push(op::FALSE),
      b'I' => {
        let n = self.r.int32()?;
        self.number(n);
      }
      b'U' => {
        let n = self.r.u32()?;
        self.number(f64::from(n));
      }
      b'N' => {
        let n = self.r.double()?;
        self.number(n);
      }
      t @ (b'"' | b'c') => {
        let (_, units) = self.string(t)?;
        self.ops.extend([op::STRING, units]);
      }
      b'^' => {
        let id = self.r.u32()?;
        match self.r.slots.get(id as usize) {
          Some(Slot::Other) => self.ops.extend([op::BACKREF, id]),
          _ => return Err("unsupported back reference"),
        }
        // A reference to an object still being written: it and everything open inside it
        // must exist before their values are decoded.
        for entry in self.open.iter_mut().rev() {
          if entry.0 < id {
            break;
          }
          entry.1 = true;
        }
      }
      b'o' => {
        let id = self.r.new_id(Slot::Other);
        let at = self.ops.len();
        self.ops.extend([op::OBJECT, 0, NO_SHAPE]);
        self.open.push((id, false));
        let props = self.props(b'{', depth)?;
        let (_, cyclic) = self.open.pop().unwrap_or((id, true));
        self.ops[at + 1] = props.count;
        if !cyclic {
          self.ops[at + 2] = props.shape;
        }
        self.r.varint()?;
      }
      b'A' => {
        let id = self.r.new_id(Slot::Other);
        self.open.push((id, false));
        let length = self.r.u32()?;
        let at = self.ops.len();
        self.ops.extend([op::DENSE, length, 0]);
        for _ in 0..length {
          if self.r.consume_if(b'-') {
            self.ops.push(op::HOLE);
          } else {
            self.value(depth)?;
          }
        }
        self.ops[at + 2] = self.props(b'$', depth)?.count;
        self.open.pop();
        self.r.varint()?;
        self.r.varint()?;
      }
      b'a' => {
        let id = self.r.new_id(Slot::Other);
        self.open.push((id, false));
        let length = self.r.u32()?;
        let at = self.ops.len();
        self.ops.extend([op::SPARSE, length, 0]);
        self.ops[at + 2] = self.props(b'@', depth)?.count;
        self.open.pop();
        self.r.varint()?;
        self.r.varint()?;
      }
      b'D' => {
        self.r.new_id(Slot::Other);
        let t = self.r.double()?;
        self.ops.push(op::DATE);
        self.nums.push(t);
      }
      _ => return Err("not plain data"),
    }
    Ok(())
  }

  /// Appends a string body to the text: its raw bytes and its length in UTF-16 units.
  fn string(&mut self, t: u8) -> Result<(&'a [u8], u32), WireError> {
    let n = self.r.len()?;
    let bytes = self.r.raw(n)?;
    let units = self.push_text(t, bytes)?;
    Ok((bytes, units))
  }

  /// Appends the bytes of a one-byte (`"`) or two-byte (`c`) string; answers its length in
  /// UTF-16 units.
  fn push_text(&mut self, t: u8, bytes: &'a [u8]) -> Result<u32, WireError> {
    let n = bytes.len();
    let units = u32::try_from(if t == b'"' { n } else { n / 2 }).map_err(|_| "string too long")?;
    if t == b'"' {
      match &mut self.text {
        Text::Latin1(v) => v.extend_from_slice(bytes),
        Text::Utf16(v) => v.extend(bytes.iter().map(|&b| u16::from(b))),
      }
      return Ok(units);
    }
    if !n.is_multiple_of(2) {
      return Err("odd two-byte string");
    }
    if let Text::Latin1(v) = &self.text {
      self.text = Text::Utf16(v.iter().map(|&b| u16::from(b)).collect());
    }
    if let Text::Utf16(v) = &mut self.text {
      v.extend(
        bytes
          .chunks_exact(2)
          .map(|c| u16::from_le_bytes([c[0], c[1]])),
      );
    }
    Ok(units)
  }

  /// The key that followed `shape` last time, if these are its bytes (most objects repeat the
  /// previous key order, and a comparison costs less than hashing), with the shape it leads to.
  fn predicted(&self, shape: u32, t: u8, bytes: &[u8]) -> Option<(u32, u32)> {
    let (key, next) = self.last[shape as usize];
    let known = self.key_bytes.get(key as usize)?;
    (known.0 == t && known.1 == bytes).then_some((key, next))
  }

  /// Writes a property name: a reference to a name sent before, or the name itself.
  fn key(&mut self, t: u8, bytes: &'a [u8]) -> Result<u32, WireError> {
    if let Some(&k) = self.keys.get(&(t, bytes)) {
      self.ops.extend([op::KEY, k]);
      return Ok(k);
    }
    let units = self.push_text(t, bytes)?;
    let k = self.key_bytes.len() as u32;
    self.keys.insert((t, bytes), k);
    self.key_bytes.push((t, bytes));
    self.ops.extend([op::NEW_KEY, units]);
    Ok(k)
  }

  /// Key/value pairs up to `end`; answers their count and shape.
  fn props(&mut self, end: u8, depth: u32) -> Result<Props, WireError> {
    let mut count = 0u32;
    let mut shape = Some(0u32);
    while !self.r.consume_if(end) {
      match self.r.tag()? {
        t @ (b'"' | b'c') => {
          let n = self.r.len()?;
          let bytes = self.r.raw(n)?;
          shape = match shape.and_then(|s| self.predicted(s, t, bytes)) {
            Some((key, next)) => {
              self.ops.extend([op::KEY, key]);
              Some(next)
            }
            None => {
              let key = self.key(t, bytes)?;
              shape.map(|s| self.next_shape(s, key))
            }
          };
        }
        b'I' => {
          let n = self.r.int32()?;
          self.index(n)?;
          shape = None;
        }
        b'U' => {
          let n = f64::from(self.r.u32()?);
          self.index(n)?;
          shape = None;
        }
        b'N' => {
          let n = self.r.double()?;
          self.index(n)?;
          shape = None;
        }
        _ => return Err("bad property key"),
      }
      self.value(depth)?;
      count += 1;
    }
    Ok(Props {
      count,
      shape: shape.unwrap_or(NO_SHAPE),
    })
  }

  /// The shape reached from `shape` by adding `key`.
  fn next_shape(&mut self, shape: u32, key: u32) -> u32 {
    let (k, next) = self.last[shape as usize];
    if k == key {
      return next;
    }
    let fresh = self.last.len() as u32;
    let next = *self.shapes.entry((shape, key)).or_insert(fresh);
    if next == fresh {
      self.last.push((u32::MAX, 0));
    }
    self.last[shape as usize] = (key, next);
    next
  }

  fn number(&mut self, n: f64) {
    self.ops.push(op::NUMBER);
    self.nums.push(n);
  }

  fn index(&mut self, n: f64) -> Result<(), WireError> {
    let i = super::index_key(n)?;
    self.ops.extend([op::INDEX, i]);
    Ok(())
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;

  #[test]
  fn names_are_sent_once() {
    // [{ a: 1 }, { a: 'x' }]
    let bytes = [
      0xff, 0x0f, 0x41, 0x02, 0x6f, 0x22, 0x01, 0x61, 0x49, 0x02, 0x7b, 0x01, 0x6f, 0x22, 0x01,
      0x61, 0x22, 0x01, 0x78, 0x7b, 0x01, 0x24, 0x00, 0x02,
    ];
    let t = tape(&bytes).unwrap();
    assert_eq!(t.ops, vec![10, 2, 0, 6, 1, 1, 7, 1, 4, 6, 1, 1, 8, 0, 5, 1]);
    assert_eq!(t.nums, vec![1.0]);
    let Text::Latin1(text) = t.text else {
      panic!("two-byte text")
    };
    assert_eq!(text, b"ax");
  }

  #[test]
  fn objects_referenced_from_inside_have_no_shape() {
    // const o = {}; o.a = o; [o, { a: 1 }, { 1: 2 }]
    let bytes = [
      0xff, 0x0f, 0x41, 0x03, 0x6f, 0x22, 0x01, 0x61, 0x5e, 0x01, 0x7b, 0x01, 0x6f, 0x22, 0x01,
      0x61, 0x49, 0x02, 0x7b, 0x01, 0x6f, 0x49, 0x02, 0x49, 0x04, 0x7b, 0x01, 0x24, 0x00, 0x03,
    ];
    let t = tape(&bytes).unwrap();
    assert_eq!(
      t.ops,
      vec![10, 3, 0, 6, 1, NO_SHAPE, 7, 1, 13, 1, 6, 1, 1, 8, 0, 4, 6, 1, NO_SHAPE, 9, 1, 4]
    );
    assert_eq!(t.nums, vec![1.0, 2.0]);
  }

  #[test]
  fn other_kinds_are_left_to_node() {
    // new Map()
    assert!(tape(&[0xff, 0x0f, 0x3b, 0x3a, 0x00]).is_err());
  }
}
