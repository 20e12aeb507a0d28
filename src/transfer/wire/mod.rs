//! A reader for V8's structured-clone wire format (what `ValueSerializer`, and so Node's
//! `v8.Serializer`, writes; format versions 13–15) into the value tree.
//!
//! Host objects copied into an `ExternalCopy` are serialised by Node's own V8 (one native
//! pass, getters run once, exactly like isolated-vm) and kept as these bytes; this reader
//! turns them into a tree when an isolate needs one. Anything it does not know is an error.

mod tape;

pub use tape::{tape, Tape, Text};

use super::value::{BigInt, Boxed, ErrorData, JsString, Key, Value, ViewKind, MAX_DEPTH};

/// Why bytes could not be read (the caller falls back; never shown to users).
pub type WireError = &'static str;

const MIN_VERSION: u64 = 13;
const MAX_VERSION: u64 = 15;

/// What the object with a given id is, for back references.
#[derive(Clone, Copy)]
enum Slot {
  Other,
  Buffer,
  Shared(usize),
}

/// Whether the bytes may hold an empty object (its tag, end tag and zero count in a row),
/// which may stand for an ivm handle: those have no own properties. A false positive only
/// costs the exact path.
pub fn may_hold_empty_object(bytes: &[u8]) -> bool {
  memchr::memmem::find(bytes, b"o{\0").is_some()
}

/// Builds the tree. `shared` holds the SharedArrayBuffer handles by serialiser id.
pub fn parse(bytes: &[u8], shared: &[Value]) -> Result<Value, WireError> {
  let mut r = Reader::new(bytes, shared)?;
  let v = r.value(0)?;
  if r.buf[r.pos..].iter().any(|&b| b != 0) {
    return Err("trailing bytes");
  }
  Ok(v)
}

/// A numeric property key: V8 writes only array indices as numbers.
fn index_key(n: f64) -> Result<u32, WireError> {
  if (0.0..4294967295.0).contains(&n) && n.fract() == 0.0 {
    Ok(n as u32)
  } else {
    Err("bad property key")
  }
}

struct Reader<'a> {
  buf: &'a [u8],
  pos: usize,
  version: u64,
  slots: Vec<Slot>,
  shared: &'a [Value],
}

impl<'a> Reader<'a> {
  fn new(buf: &'a [u8], shared: &'a [Value]) -> Result<Reader<'a>, WireError> {
    let mut r = Reader {
      buf,
      pos: 0,
      version: 0,
      slots: Vec::new(),
      shared,
    };
    if r.byte()? != 0xFF {
      return Err("no header");
    }
    r.version = r.varint()?;
    if !(MIN_VERSION..=MAX_VERSION).contains(&r.version) {
      return Err("unsupported version");
    }
    Ok(r)
  }

  fn byte(&mut self) -> Result<u8, WireError> {
    let b = *self.buf.get(self.pos).ok_or("truncated")?;
    self.pos += 1;
    Ok(b)
  }

  fn raw(&mut self, n: usize) -> Result<&'a [u8], WireError> {
    let end = self.pos.checked_add(n).ok_or("truncated")?;
    let s = self.buf.get(self.pos..end).ok_or("truncated")?;
    self.pos = end;
    Ok(s)
  }

  fn varint(&mut self) -> Result<u64, WireError> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
      let b = self.byte()?;
      out |= u64::from(b & 0x7f) << shift;
      if b & 0x80 == 0 {
        return Ok(out);
      }
    }
    Err("bad varint")
  }

  /// A zigzag-encoded int32.
  fn int32(&mut self) -> Result<f64, WireError> {
    let z = self.varint()?;
    Ok(f64::from(((z >> 1) as i64 ^ -((z & 1) as i64)) as i32))
  }

  fn u32(&mut self) -> Result<u32, WireError> {
    u32::try_from(self.varint()?).map_err(|_| "varint too large")
  }

  fn len(&mut self) -> Result<usize, WireError> {
    let n = self.varint()?;
    let n = usize::try_from(n).map_err(|_| "length too large")?;
    if n > self.buf.len() - self.pos {
      return Err("truncated");
    }
    Ok(n)
  }

  fn double(&mut self) -> Result<f64, WireError> {
    let b = self.raw(8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(f64::from_le_bytes(a))
  }

  /// The next tag, skipping padding.
  fn tag(&mut self) -> Result<u8, WireError> {
    loop {
      let t = self.byte()?;
      if t != 0 {
        return Ok(t);
      }
    }
  }

  fn peek_tag(&self) -> Option<u8> {
    self.buf[self.pos..].iter().copied().find(|&b| b != 0)
  }

  fn consume_if(&mut self, tag: u8) -> bool {
    if self.peek_tag() == Some(tag) {
      while self.buf[self.pos] == 0 {
        self.pos += 1;
      }
      self.pos += 1;
      true
    } else {
      false
    }
  }

  fn new_id(&mut self, slot: Slot) -> u32 {
    self.slots.push(slot);
    (self.slots.len() - 1) as u32
  }

  /// One value, including a view that follows its buffer.
  fn value(&mut self, depth: u32) -> Result<Value, WireError> {
    if depth >= MAX_DEPTH {
      return Err("too deep");
    }
    let t = self.tag()?;
    let (v, buffer) = self.value_of(t, depth + 1)?;
    if buffer && self.consume_if(b'V') {
      return self.view(v);
    }
    Ok(v)
  }

  /// The value a tag starts, and whether it is an ArrayBuffer (a view may follow).
  fn value_of(&mut self, t: u8, depth: u32) -> Result<(Value, bool), WireError> {
    let v = match t {
      b'_' => Value::Undefined,
      b'0' => Value::Null,
      b'T' => Value::Bool(true),
      b'F' => Value::Bool(false),
      b'I' => Value::Number(self.int32()?),
      b'U' => Value::Number(f64::from(self.u32()?)),
      b'N' => Value::Number(self.double()?),
      b'Z' => Value::BigInt(self.bigint()?),
      b'"' | b'c' | b'S' => Value::String(self.string_body(t)?),
      b'?' => {
        self.varint()?;
        return Ok((self.value(depth)?, false));
      }
      b'^' => return self.backref(),
      b'o' => {
        let id = self.new_id(Slot::Other);
        let props = self.props(b'{', depth)?;
        self.varint()?;
        Value::Object { id, props }
      }
      b'A' => self.dense_array(depth)?,
      b'a' => {
        let id = self.new_id(Slot::Other);
        let length = self.u32()?;
        let props = self.props(b'@', depth)?;
        self.varint()?;
        self.varint()?;
        Value::Array { id, length, props }
      }
      b'D' => {
        let id = self.new_id(Slot::Other);
        Value::Date {
          id,
          time: self.double()?,
        }
      }
      b'y' | b'x' | b'n' | b'z' | b's' => self.boxed(t, depth)?,
      b'R' => self.regexp(depth)?,
      b';' => self.map(depth)?,
      b'\'' => self.set(depth)?,
      b'B' | b'~' => return Ok((self.array_buffer(t)?, true)),
      b'u' => {
        let i = usize::try_from(self.varint()?).map_err(|_| "bad id")?;
        let v = self.shared.get(i).ok_or("unknown shared buffer")?.clone();
        self.new_id(Slot::Shared(i));
        return Ok((v, true));
      }
      b'r' => self.error(depth)?,
      _ => return Err("unsupported tag"),
    };
    Ok((v, false))
  }

  #[inline(never)]
  fn backref(&mut self) -> Result<(Value, bool), WireError> {
    let id = self.u32()?;
    match self.slots.get(id as usize).ok_or("bad back reference")? {
      Slot::Other => Ok((Value::Backref(id), false)),
      Slot::Buffer => Ok((Value::Backref(id), true)),
      Slot::Shared(i) => Ok((self.shared[*i].clone(), true)),
    }
  }

  #[inline(never)]
  fn string_body(&mut self, t: u8) -> Result<JsString, WireError> {
    let n = self.len()?;
    let bytes = self.raw(n)?;
    Ok(match t {
      b'"' => JsString::Latin1(bytes.to_vec()),
      b'c' => {
        if n % 2 != 0 {
          return Err("odd two-byte string");
        }
        let units = bytes
          .chunks_exact(2)
          .map(|c| u16::from_le_bytes([c[0], c[1]]))
          .collect();
        JsString::from_utf16(units)
      }
      _ => JsString::from(String::from_utf8_lossy(bytes).as_ref()),
    })
  }

  /// A value that must be a string (RegExp source, boxed string, error texts).
  fn string(&mut self, depth: u32) -> Result<JsString, WireError> {
    match self.value(depth)? {
      Value::String(s) => Ok(s),
      _ => Err("expected a string"),
    }
  }

  #[inline(never)]
  fn bigint(&mut self) -> Result<BigInt, WireError> {
    let bits = self.varint()?;
    let n = usize::try_from(bits >> 1).map_err(|_| "bad bigint")?;
    let bytes = self.raw(n)?;
    if n % 8 != 0 {
      return Err("bad bigint");
    }
    let mut words: Vec<u64> = bytes
      .chunks_exact(8)
      .map(|c| {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        u64::from_le_bytes(a)
      })
      .collect();
    if words.is_empty() {
      words.push(0);
    }
    Ok(BigInt {
      negative: bits & 1 == 1,
      words,
    })
  }

  fn key(&mut self, depth: u32) -> Result<Key, WireError> {
    match self.value(depth)? {
      Value::String(s) => Ok(Key::Name(s)),
      Value::Number(n) => index_key(n).map(Key::Index),
      _ => Err("bad property key"),
    }
  }

  /// Key/value pairs up to `end`.
  fn props(&mut self, end: u8, depth: u32) -> Result<Vec<(Key, Value)>, WireError> {
    let mut props = Vec::new();
    while !self.consume_if(end) {
      let k = self.key(depth)?;
      let v = self.value(depth)?;
      props.push((k, v));
    }
    Ok(props)
  }

  #[inline(never)]
  fn dense_array(&mut self, depth: u32) -> Result<Value, WireError> {
    let id = self.new_id(Slot::Other);
    let length = self.u32()?;
    let mut props = Vec::new();
    for i in 0..length {
      if self.consume_if(b'-') {
        continue;
      }
      let v = self.value(depth)?;
      props.push((Key::Index(i), v));
    }
    let named = self.props(b'$', depth)?;
    props.extend(named);
    self.varint()?;
    self.varint()?;
    Ok(Value::Array { id, length, props })
  }

  #[inline(never)]
  fn boxed(&mut self, t: u8, depth: u32) -> Result<Value, WireError> {
    let id = self.new_id(Slot::Other);
    let inner = match t {
      b'y' => Boxed::Bool(true),
      b'x' => Boxed::Bool(false),
      b'n' => Boxed::Number(self.double()?),
      b'z' => Boxed::BigInt(self.bigint()?),
      _ => Boxed::String(self.string(depth)?),
    };
    Ok(Value::Boxed { id, inner })
  }

  #[inline(never)]
  fn regexp(&mut self, depth: u32) -> Result<Value, WireError> {
    let id = self.new_id(Slot::Other);
    let source = self.string(depth)?;
    let bits = self.u32()?;
    // V8's flag bits, written in the order the `flags` getter uses ("dgimsuvy").
    const ORDER: [(u32, u8); 8] = [
      (1 << 7, b'd'),
      (1, b'g'),
      (1 << 1, b'i'),
      (1 << 2, b'm'),
      (1 << 5, b's'),
      (1 << 4, b'u'),
      (1 << 8, b'v'),
      (1 << 3, b'y'),
    ];
    let flags = ORDER
      .iter()
      .filter(|(bit, _)| bits & bit != 0)
      .map(|&(_, c)| c)
      .collect();
    Ok(Value::RegExp {
      id,
      source,
      flags: JsString::Latin1(flags),
    })
  }

  #[inline(never)]
  fn map(&mut self, depth: u32) -> Result<Value, WireError> {
    let id = self.new_id(Slot::Other);
    let mut entries = Vec::new();
    while !self.consume_if(b':') {
      let k = self.value(depth)?;
      let v = self.value(depth)?;
      entries.push((k, v));
    }
    self.varint()?;
    Ok(Value::Map { id, entries })
  }

  #[inline(never)]
  fn set(&mut self, depth: u32) -> Result<Value, WireError> {
    let id = self.new_id(Slot::Other);
    let mut values = Vec::new();
    while !self.consume_if(b',') {
      values.push(self.value(depth)?);
    }
    self.varint()?;
    Ok(Value::Set { id, values })
  }

  #[inline(never)]
  fn array_buffer(&mut self, t: u8) -> Result<Value, WireError> {
    let id = self.new_id(Slot::Buffer);
    let n = self.len()?;
    if t == b'~' {
      self.varint()?;
    }
    let bytes = self.raw(n)?;
    Ok(Value::ArrayBuffer {
      id,
      bytes: bytes.to_vec(),
    })
  }

  #[inline(never)]
  fn view(&mut self, buffer: Value) -> Result<Value, WireError> {
    let sub = self.byte()?;
    let byte_offset = self.len_value()?;
    let byte_length = self.len_value()?;
    if self.version >= 14 {
      self.varint()?;
    }
    let kind = match sub {
      b'b' => ViewKind::Int8,
      b'B' => ViewKind::Uint8,
      b'C' => ViewKind::Uint8Clamped,
      b'w' => ViewKind::Int16,
      b'W' => ViewKind::Uint16,
      b'd' => ViewKind::Int32,
      b'D' => ViewKind::Uint32,
      b'h' => ViewKind::Float16,
      b'f' => ViewKind::Float32,
      b'F' => ViewKind::Float64,
      b'q' => ViewKind::BigInt64,
      b'Q' => ViewKind::BigUint64,
      b'?' => ViewKind::DataView,
      _ => return Err("unsupported view"),
    };
    let id = self.new_id(Slot::Other);
    Ok(Value::View {
      id,
      kind,
      buffer: Box::new(buffer),
      byte_offset,
      length: byte_length / kind.element_size(),
    })
  }

  /// A varint that is an offset or length (not checked against the remaining bytes).
  fn len_value(&mut self) -> Result<usize, WireError> {
    usize::try_from(self.varint()?).map_err(|_| "length too large")
  }

  #[inline(never)]
  fn error(&mut self, depth: u32) -> Result<Value, WireError> {
    let id = self.new_id(Slot::Other);
    let mut data = ErrorData {
      ctor: "Error",
      name: None,
      message: JsString::Latin1(Vec::new()),
      stack: None,
    };
    loop {
      match self.byte()? {
        // V8 writes the kind its `name` names; the two without a preserved constructor
        // keep their name, as errors do everywhere else (SPEC §2.3).
        b'E' => data.name = Some(JsString::from("EvalError")),
        b'R' => data.ctor = "RangeError",
        b'F' => data.ctor = "ReferenceError",
        b'S' => data.ctor = "SyntaxError",
        b'T' => data.ctor = "TypeError",
        b'U' => data.name = Some(JsString::from("URIError")),
        b'm' => data.message = self.string(depth)?,
        b's' => data.stack = Some(self.string(depth)?),
        b'c' => {
          self.value(depth)?;
        }
        b'.' => break,
        _ => return Err("unsupported error field"),
      }
    }
    Ok(Value::Error {
      id,
      data: Box::new(data),
    })
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;

  // Bytes written by Node 20's `v8.serialize`.
  // ({ id: 1, tags: ['a', <hole>] }): a holey array is written sparse.
  const USER: &[u8] = &[
    0xff, 0x0f, 0x6f, 0x22, 0x02, 0x69, 0x64, 0x49, 0x02, 0x22, 0x04, 0x74, 0x61, 0x67, 0x73, 0x61,
    0x02, 0x49, 0x00, 0x22, 0x01, 0x61, 0x40, 0x01, 0x02, 0x7b, 0x02,
  ];

  #[test]
  fn reads_objects_arrays_holes() {
    let v = parse(USER, &[]).unwrap();
    let Value::Object { props, .. } = v else {
      panic!("not an object")
    };
    assert_eq!(
      props[0],
      (Key::Name(JsString::from("id")), Value::Number(1.0))
    );
    let Value::Array { length, props, .. } = &props[1].1 else {
      panic!("not an array")
    };
    assert_eq!(*length, 2);
    assert_eq!(props.len(), 1);
    assert!(!may_hold_empty_object(USER));
  }

  #[test]
  fn dense_arrays_skip_holes() {
    // [1, <hole>, 'x'] written densely, plus a named property.
    let bytes = [
      0xff, 0x0f, 0x41, 0x03, 0x49, 0x02, 0x2d, 0x22, 0x01, 0x78, 0x22, 0x01, 0x6b, 0x54, 0x24,
      0x01, 0x03,
    ];
    let Value::Array { length, props, .. } = parse(&bytes, &[]).unwrap() else {
      panic!("not an array")
    };
    assert_eq!(length, 3);
    assert_eq!(props.len(), 3);
    assert_eq!(
      props[1],
      (Key::Index(2), Value::String(JsString::from("x")))
    );
    assert_eq!(
      props[2],
      (Key::Name(JsString::from("k")), Value::Bool(true))
    );
  }

  #[test]
  fn empty_objects_are_spotted() {
    let bytes = [0xff, 0x0f, 0x6f, 0x7b, 0x00];
    assert!(may_hold_empty_object(&bytes));
    assert_eq!(
      parse(&bytes, &[]).unwrap(),
      Value::Object {
        id: 0,
        props: vec![]
      }
    );
  }

  #[test]
  fn rejects_what_it_does_not_know() {
    assert!(parse(&[0xff, 0x0f, 0x5c], &[]).is_err());
    assert!(parse(&[0xff, 0x0f, 0x6f, 0x22, 0x09, 0x61], &[]).is_err());
    assert!(parse(&[0xff, 0x0c, 0x5f], &[]).is_err());
    assert!(parse(&[0xff, 0x0f, 0x5f, 0x5f], &[]).is_err());
    assert!(parse(&[0xff, 0x0f, 0x75, 0x00], &[]).is_err());
    assert!(parse(&[0xff, 0x0f, 0x5e, 0x00], &[]).is_err());
  }
}
