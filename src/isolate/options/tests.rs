//! The option schema against an in-memory [`OptionSource`]: defaults, every option, wrong
//! types with SPEC's texts, nested `arguments` / `result`, exclusive transfer flags.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::isolate::IsolateOptions;

/// A JS value for the map-backed source.
#[derive(Debug, Clone)]
enum V {
  Undefined,
  Null,
  Bool(bool),
  Num(f64),
  Str(&'static str),
  BigInt(i64),
  Symbol,
  Func,
  Obj(Vec<(&'static str, V)>),
  /// A getter that throws this message.
  Throws(&'static str),
}

/// Reads `V` trees; values and objects are indices into an arena.
struct MapSource {
  arena: Vec<V>,
}

impl MapSource {
  fn new() -> Self {
    MapSource { arena: Vec::new() }
  }

  fn add(&mut self, v: V) -> usize {
    self.arena.push(v);
    self.arena.len() - 1
  }
}

impl OptionSource for MapSource {
  type Value = usize;
  type Object = usize;
  type Error = Thrown;

  fn kind(&mut self, v: usize) -> Kind {
    match &self.arena[v] {
      V::Undefined => Kind::Undefined,
      V::Null => Kind::Null,
      V::Bool(_) => Kind::Bool,
      V::Num(_) => Kind::Number,
      V::Str(_) => Kind::String,
      V::BigInt(_) => Kind::BigInt,
      V::Symbol => Kind::Symbol,
      V::Func => Kind::Function,
      V::Obj(_) => Kind::Object,
      V::Throws(_) => Kind::Undefined,
    }
  }

  fn truthy(&mut self, v: usize) -> bool {
    match &self.arena[v] {
      V::Undefined | V::Null | V::Throws(_) => false,
      V::Bool(b) => *b,
      V::Num(n) => *n != 0.0 && !n.is_nan(),
      V::Str(s) => !s.is_empty(),
      V::BigInt(n) => *n != 0,
      V::Symbol | V::Func | V::Obj(_) => true,
    }
  }

  fn number(&mut self, v: usize) -> f64 {
    match &self.arena[v] {
      V::Num(n) => *n,
      _ => f64::NAN,
    }
  }

  fn string(&mut self, v: usize) -> Result<String, Thrown> {
    match &self.arena[v] {
      V::Str(s) => Ok(s.to_string()),
      _ => Err(Thrown::error("not a string")),
    }
  }

  fn external_copy(
    &mut self,
    _v: usize,
  ) -> Option<std::sync::Arc<crate::transfer::external::ExternalData>> {
    None
  }

  fn object(&mut self, v: usize) -> Option<usize> {
    matches!(self.arena[v], V::Obj(_) | V::Func).then_some(v)
  }

  fn get(&mut self, obj: usize, name: &'static str) -> Result<usize, Thrown> {
    let found = match &self.arena[obj] {
      V::Obj(props) => props
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone()),
      _ => None,
    };
    match found {
      Some(V::Throws(m)) => Err(Thrown::error(m)),
      Some(v) => Ok(self.add(v)),
      None => Ok(self.add(V::Undefined)),
    }
  }
}

fn message(t: Thrown) -> (crate::error::ErrorKind, String) {
  match t {
    Thrown::Error { kind, message, .. } => (kind, message.to_rust()),
    Thrown::Value(_) => panic!("a thrown primitive"),
  }
}

fn type_error(text: &str) -> (crate::error::ErrorKind, String) {
  (crate::error::ErrorKind::TypeError, text.to_string())
}

/// Parses `v` as the options argument (parameter `n`) of a method.
fn parse<T: Schema>(v: V, n: u32) -> Result<T, Thrown> {
  let mut src = MapSource::new();
  let v = src.add(v);
  T::parse(&mut src, v, METHOD, n)
}

fn obj(props: Vec<(&'static str, V)>) -> V {
  V::Obj(props)
}

#[test]
fn absent_options_take_defaults() {
  for absent in [V::Undefined, V::Null, obj(vec![])] {
    assert_eq!(
      parse::<GetOptions>(absent.clone(), 2).unwrap(),
      GetOptions::default()
    );
    assert_eq!(
      parse::<ApplyOptions>(absent.clone(), 3).unwrap(),
      ApplyOptions::default()
    );
    assert_eq!(
      parse::<RunOptions>(absent.clone(), 2).unwrap(),
      RunOptions::default()
    );
    let e = parse::<EvalOptions>(absent.clone(), 2).unwrap();
    assert_eq!(e.origin.filename, "<isolated-vm>");
    assert_eq!(
      (e.origin.line_offset, e.origin.column_offset, e.timeout),
      (0, 0, 0)
    );
    assert_eq!(e.transfer, TransferOptions::default());
    let i = parse::<IsolateOptions>(absent, 1).unwrap();
    assert_eq!(i.memory_limit, 128 * 1024 * 1024);
  }
}

#[test]
fn null_and_undefined_fields_are_absent() {
  let o = obj(vec![
    ("timeout", V::Null),
    ("filename", V::Undefined),
    ("copy", V::Null),
  ]);
  let e = parse::<EvalOptions>(o, 2).unwrap();
  assert_eq!(e.timeout, 0);
  assert_eq!(e.origin.filename, "<isolated-vm>");
}

#[test]
fn non_object_options_argument() {
  for bad in [
    V::Num(5.0),
    V::Str("x"),
    V::Bool(true),
    V::Symbol,
    V::BigInt(1),
  ] {
    let e = parse::<GetOptions>(bad.clone(), 2).unwrap_err();
    assert_eq!(
      message(e),
      type_error("`undefined` requires parameter 2 to be an object")
    );
    let mut src = MapSource::new();
    let v = src.add(bad);
    let e = ReferenceOptions::parse(&mut src, v, "Reference", 2).unwrap_err();
    assert_eq!(
      message(e),
      type_error("`Reference` requires parameter 2 to be an object")
    );
  }
  // A function is an object.
  assert!(parse::<GetOptions>(V::Func, 2).is_ok());
}

#[test]
fn transfer_flags_by_truthiness() {
  let o = obj(vec![("copy", V::Num(1.0)), ("promise", V::Str("yes"))]);
  let t = parse::<TransferOptions>(o, 3).unwrap();
  assert!(t.copy && t.promise && !t.reference && !t.external_copy);
  let o = obj(vec![
    ("reference", V::Str("")),
    ("externalCopy", V::Num(0.0)),
  ]);
  assert_eq!(
    parse::<TransferOptions>(o, 3).unwrap(),
    TransferOptions::default()
  );
}

#[test]
fn exclusive_transfer_flags() {
  for (a, b) in [
    ("copy", "externalCopy"),
    ("copy", "reference"),
    ("externalCopy", "reference"),
  ] {
    let o = obj(vec![(a, V::Bool(true)), (b, V::Bool(true))]);
    let e = parse::<TransferOptions>(o, 3).unwrap_err();
    assert_eq!(message(e), type_error(msg::EXCLUSIVE_TRANSFER));
  }
  let o = obj(vec![
    ("reference", V::Bool(true)),
    ("promise", V::Bool(true)),
  ]);
  assert!(parse::<TransferOptions>(o, 3).is_ok());
}

#[test]
fn get_options() {
  let o = obj(vec![
    ("accessors", V::Bool(true)),
    ("reference", V::Bool(true)),
  ]);
  let g = parse::<GetOptions>(o, 2).unwrap();
  assert!(g.accessors && g.transfer.reference);
}

#[test]
fn nested_arguments_and_result() {
  let o = obj(vec![
    ("timeout", V::Num(11.0)),
    ("arguments", obj(vec![("copy", V::Bool(true))])),
    (
      "result",
      obj(vec![
        ("externalCopy", V::Bool(true)),
        ("promise", V::Bool(true)),
      ]),
    ),
  ]);
  let a = parse::<ApplyOptions>(o.clone(), 3).unwrap();
  assert_eq!(a.timeout, 11);
  assert!(a.arguments.copy && !a.arguments.promise);
  assert!(a.result.external_copy && a.result.promise);
  assert!(a.has_result);
  assert!(a.for_sync_promise().is_err());
  let c = parse::<ClosureOptions>(o, 3).unwrap();
  assert!(c.arguments.copy && c.result.external_copy);
  // Flags at the top level do not leak into the nested options.
  let o = obj(vec![("copy", V::Bool(true))]);
  let a = parse::<ApplyOptions>(o, 3).unwrap();
  assert_eq!((a.arguments, a.result), Default::default());
  assert!(a.for_sync_promise().is_ok());
}

#[test]
fn nested_options_must_be_objects() {
  for name in ["arguments", "result"] {
    let o = obj(vec![(name, V::Num(5.0))]);
    let e = parse::<ApplyOptions>(o.clone(), 3).unwrap_err();
    assert_eq!(
      message(e),
      type_error(&format!("`{name}` must be an object"))
    );
    let e = parse::<ClosureOptions>(o, 3).unwrap_err();
    assert_eq!(
      message(e),
      type_error(&format!("`{name}` must be an object"))
    );
  }
  let o = obj(vec![(
    "result",
    obj(vec![("copy", V::Bool(true)), ("reference", V::Bool(true))]),
  )]);
  let e = parse::<ApplyOptions>(o, 3).unwrap_err();
  assert_eq!(message(e), type_error(msg::EXCLUSIVE_TRANSFER));
}

#[test]
fn timeout_values() {
  let t = |v: V| parse::<RunOptions>(obj(vec![("timeout", v)]), 2).map(|r| r.timeout);
  assert_eq!(t(V::Num(0.0)).unwrap(), 0);
  assert_eq!(t(V::Num(5.0)).unwrap(), 5);
  assert_eq!(t(V::Num(2147483647.0)).unwrap(), i32::MAX as u32);
  assert_eq!(t(V::Num(-1.0)).unwrap(), u32::MAX);
  assert_eq!(t(V::Num(-2147483648.0)).unwrap(), 1 << 31);
  assert_eq!(t(V::Null).unwrap(), 0);
  let bad = type_error(msg::TIMEOUT_TYPE);
  for v in [
    V::Str("5"),
    V::Num(f64::NAN),
    V::Num(0.2),
    V::Num(-0.0),
    V::Num(2147483648.0),
    V::Num(-2147483649.0),
    V::Num(f64::INFINITY),
    V::Bool(true),
    obj(vec![]),
  ] {
    assert_eq!(message(t(v).unwrap_err()), bad);
  }
}

#[test]
fn origin_fields() {
  let o = obj(vec![
    ("filename", V::Str("a.js")),
    ("lineOffset", V::Num(10.0)),
    ("columnOffset", V::Num(-1e12)),
  ]);
  let c = parse::<CompileOptions>(o, 2).unwrap();
  assert_eq!(c.origin.filename, "a.js");
  assert_eq!(
    (c.origin.line_offset, c.origin.column_offset),
    (10, i32::MIN)
  );
  let e = parse::<CompileOptions>(obj(vec![("filename", V::Num(1.0))]), 2).unwrap_err();
  assert_eq!(message(e), type_error("`filename` must be a string"));
  let c = parse::<CompileOptions>(obj(vec![("produceCachedData", V::Num(1.0))]), 2).unwrap();
  assert!(c.cache.produce && c.cache.cached_data.is_none());
  let e = parse::<CompileOptions>(obj(vec![("cachedData", V::Str("x"))]), 2).unwrap_err();
  assert_eq!(message(e), type_error("`cachedData` must be an object"));
  let e = parse::<CompileOptions>(obj(vec![("cachedData", V::Obj(vec![]))]), 2).unwrap_err();
  assert_eq!(
    message(e),
    type_error("`cachedData` must be an ExternalCopy to ArrayBuffer")
  );
  let e = parse::<EvalOptions>(obj(vec![("lineOffset", V::Str("1"))]), 2).unwrap_err();
  assert_eq!(message(e), type_error("`lineOffset` must be a number"));
}

#[test]
fn release_copy_reference_and_callback_options() {
  assert!(
    parse::<ReleaseOptions>(obj(vec![("release", V::Bool(true))]), 1)
      .unwrap()
      .release
  );
  let c = parse::<CopyOptions>(obj(vec![("transferIn", V::Bool(true))]), 1).unwrap();
  assert!(c.transfer_in && !c.release);
  let r = parse::<ReferenceOptions>(obj(vec![("unsafeInherit", V::Num(1.0))]), 2).unwrap();
  assert!(r.unsafe_inherit);
  let r = parse::<RunOptions>(
    obj(vec![("release", V::Bool(true)), ("copy", V::Bool(true))]),
    2,
  );
  assert!(r.unwrap().release);
  assert_eq!(parse::<Flavor>(V::Undefined, 2).unwrap(), Flavor::Sync);
  assert_eq!(
    parse::<Flavor>(obj(vec![("async", V::Bool(true))]), 2).unwrap(),
    Flavor::Async
  );
  let ignored = obj(vec![("ignored", V::Bool(true))]);
  assert_eq!(parse::<Flavor>(ignored, 2).unwrap(), Flavor::Ignored);
  assert!(parse::<ContextOptions>(obj(vec![("inspector", V::Bool(false))]), 1).is_ok());
  let e = parse::<ContextOptions>(V::Num(1.0), 1).unwrap_err();
  assert_eq!(
    message(e),
    type_error("`undefined` requires parameter 1 to be an object")
  );
}

#[test]
fn isolate_options() {
  let p = |v: V| {
    let mut src = MapSource::new();
    let v = src.add(v);
    IsolateOptions::parse(&mut src, v, "Isolate", 1)
  };
  assert_eq!(
    p(obj(vec![("memoryLimit", V::Num(8.0))]))
      .unwrap()
      .memory_limit,
    8 << 20
  );
  let e = p(obj(vec![("memoryLimit", V::Num(7.0))])).unwrap_err();
  assert_eq!(
    message(e),
    (
      crate::error::ErrorKind::Error,
      "`memoryLimit` must be at least 8".into()
    )
  );
  let e = p(obj(vec![("memoryLimit", V::Str("x"))])).unwrap_err();
  assert_eq!(message(e), type_error("`memoryLimit` must be a number"));
  let e = p(V::Num(5.0)).unwrap_err();
  assert_eq!(
    message(e),
    type_error("`Isolate` requires parameter 1 to be an object")
  );
  let e = p(obj(vec![("onCatastrophicError", V::Num(1.0))])).unwrap_err();
  assert_eq!(
    message(e),
    type_error("`onCatastrophicError` must be a function")
  );
  assert!(p(obj(vec![("onCatastrophicError", V::Func)])).is_ok());
  let e = p(obj(vec![("snapshot", obj(vec![]))])).unwrap_err();
  assert_eq!(
    message(e),
    type_error("`snapshot` must be an ExternalCopy to ArrayBuffer")
  );
}

#[test]
fn throwing_getter_propagates() {
  let o = obj(vec![("copy", V::Throws("boom"))]);
  let e = parse::<TransferOptions>(o, 3).unwrap_err();
  assert_eq!(message(e), (crate::error::ErrorKind::Error, "boom".into()));
}

#[test]
fn keys() {
  let k = |v: V| {
    let mut src = MapSource::new();
    let v = src.add(v);
    key(&mut src, v)
  };
  assert_eq!(k(V::Str("a")).unwrap(), KeyKind::String);
  assert_eq!(k(V::Symbol).unwrap(), KeyKind::Symbol);
  assert_eq!(k(V::Num(4.0)).unwrap(), KeyKind::Index(4));
  assert_eq!(
    k(V::Num(4_294_967_295.0)).unwrap(),
    KeyKind::Index(u32::MAX)
  );
  for bad in [
    V::Num(-1.0),
    V::Num(1.5),
    V::Num(4_294_967_296.0),
    V::Null,
    V::Undefined,
    obj(vec![]),
    V::BigInt(1),
  ] {
    assert_eq!(message(k(bad).unwrap_err()), type_error(msg::INVALID_KEY));
  }
}
