//! V8's code cache in and out of a compile (`cachedData`, `produceCachedData`, SPEC §1.3).
//! Release V8 does not checksum a code cache it consumes beyond its source hash and flags:
//! `cachedData` must come from a trusted source (README).

use crate::isolate::handle::Handle;
use crate::isolate::options::CacheOptions;
use crate::transfer::external::ExternalData;
use crate::transfer::value::Value;
use std::sync::Arc;

/// What a compile hands back about the code cache.
#[derive(Default)]
pub struct CacheOut {
  /// `cachedData`: the produced cache, as an ExternalCopy of an ArrayBuffer.
  pub produced: Option<Arc<ExternalData>>,
  /// `cachedDataRejected`: V8's verdict on the cache it was given (only when one was).
  pub rejected: Option<bool>,
}

impl CacheOut {
  /// Whether the compile has nothing to report (no cache given, none produced).
  pub fn is_empty(&self) -> bool {
    self.produced.is_none() && self.rejected.is_none()
  }

  /// The object properties it stands for, in the order isolated-vm sets them.
  pub fn properties(&self) -> Vec<(&'static str, Value)> {
    let mut props = Vec::new();
    if let Some(r) = self.rejected {
      props.push(("cachedDataRejected", Value::Bool(r)));
    }
    if let Some(data) = &self.produced {
      props.push((
        "cachedData",
        Value::Handle(Handle::ExternalCopy(data.clone())),
      ));
    }
    props
  }
}

/// The compile source for `code`, carrying the cache of `cache` when there is one, and the
/// compile options that go with it. The cache's bytes are borrowed: `cache` outlives the source.
pub fn source(
  code: v8::Local<v8::String>,
  origin: &v8::ScriptOrigin,
  cache: &CacheOptions,
) -> (
  v8::script_compiler::Source,
  v8::script_compiler::CompileOptions,
) {
  let bytes = cache
    .cached_data
    .as_ref()
    .and_then(|data| match data.value() {
      Ok(Value::ArrayBuffer { bytes, .. }) => Some(bytes.as_slice()),
      _ => None,
    });
  match bytes {
    Some(bytes) => (
      v8::script_compiler::Source::new_with_cached_data(
        code,
        Some(origin),
        v8::script_compiler::CachedData::new(bytes),
      ),
      v8::script_compiler::CompileOptions::ConsumeCodeCache,
    ),
    None => (
      v8::script_compiler::Source::new(code, Some(origin)),
      v8::script_compiler::CompileOptions::NoCompileOptions,
    ),
  }
}

/// What became of the cache after a compile from `source`: V8's verdict on the one it carried,
/// and a new one from `make` when `produce` asks for it (not when the given one was accepted,
/// as in isolated-vm).
pub fn outcome(
  source: &v8::script_compiler::Source,
  produce: bool,
  make: impl FnOnce() -> Option<v8::UniqueRef<v8::script_compiler::CachedData<'static>>>,
) -> CacheOut {
  let rejected = source.get_cached_data().map(|c| c.rejected());
  let produced = if produce && rejected != Some(false) {
    make().map(|cache| {
      ExternalData::new(Value::ArrayBuffer {
        id: 0,
        bytes: cache.to_vec(),
      })
    })
  } else {
    None
  };
  CacheOut { produced, rejected }
}
