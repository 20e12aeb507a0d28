//! The option schema of the whole API, written once and read from either face through
//! [`OptionSource`]: napi objects on Node's thread (`api::options`), V8 objects inside a guest
//! ([`v8_source`]). Texts follow SPEC.md exactly.
//!
//! Rules shared by every option (isolated-vm's `ReadOption`): a field that is `undefined` or
//! `null` takes its default; an options *argument* that is `undefined` or `null` is absent, any
//! other non-object is TypeError "`<what>` requires parameter <n> to be an object" (`<what>` is
//! the class for constructors and the literal `undefined` for methods, SPEC §2.4); flags are
//! read by truthiness; a getter that throws makes the call throw that exception.

pub mod source;
pub mod v8_source;

#[cfg(test)]
mod tests;

use crate::error::msg;
use crate::isolate::flavor::Flavor;
use crate::isolate::runtime::Origin;
use crate::transfer::options::TransferOptions;
use crate::transfer::thrown::Thrown;
use crate::transfer::value::Value;
pub use source::{Kind, OptionSource};

/// The name methods are reported under in argument errors (SPEC §2.4).
pub const METHOD: &str = "undefined";

/// An options argument: `undefined`/`null` → `None`, an object → `Some`, anything else →
/// TypeError "`<what>` requires parameter <n> to be an object".
pub fn object_arg<S: OptionSource>(
  src: &mut S,
  v: S::Value,
  what: &str,
  n: u32,
) -> Result<Option<S::Object>, S::Error> {
  let kind = src.kind(v);
  if kind.is_nullish() {
    return Ok(None);
  }
  match src.object(v) {
    Some(o) if kind.is_object() => Ok(Some(o)),
    _ => Err(Thrown::type_error(format!("`{what}` requires parameter {n} to be an object")).into()),
  }
}

/// `obj[name]`, `None` when there is no options object or the field is `undefined`/`null`.
pub fn field<S: OptionSource>(
  src: &mut S,
  obj: Option<S::Object>,
  name: &'static str,
) -> Result<Option<S::Value>, S::Error> {
  let Some(o) = obj else { return Ok(None) };
  let v = src.get(o, name)?;
  Ok((!src.kind(v).is_nullish()).then_some(v))
}

/// A boolean flag (truthiness), `false` when absent.
pub fn flag<S: OptionSource>(
  src: &mut S,
  obj: Option<S::Object>,
  name: &'static str,
) -> Result<bool, S::Error> {
  Ok(match field(src, obj, name)? {
    None => false,
    Some(v) => src.truthy(v),
  })
}

/// A number, `None` when absent; other types and NaN → TypeError "`<name>` must be a number".
pub fn number<S: OptionSource>(
  src: &mut S,
  obj: Option<S::Object>,
  name: &'static str,
) -> Result<Option<f64>, S::Error> {
  let Some(v) = field(src, obj, name)? else {
    return Ok(None);
  };
  if src.kind(v) == Kind::Number {
    let n = src.number(v);
    if !n.is_nan() {
      return Ok(Some(n));
    }
  }
  Err(Thrown::type_error(format!("`{name}` must be a number")).into())
}

/// A string, `None` when absent; other types → TypeError "`<name>` must be a string".
pub fn string<S: OptionSource>(
  src: &mut S,
  obj: Option<S::Object>,
  name: &'static str,
) -> Result<Option<String>, S::Error> {
  match field(src, obj, name)? {
    None => Ok(None),
    Some(v) if src.kind(v) == Kind::String => src.string(v).map(Some),
    Some(_) => Err(Thrown::type_error(format!("`{name}` must be a string")).into()),
  }
}

/// A nested options object, `None` when absent; other types → TypeError "`<name>` must be an
/// object".
pub fn sub_object<S: OptionSource>(
  src: &mut S,
  obj: Option<S::Object>,
  name: &'static str,
) -> Result<Option<S::Object>, S::Error> {
  let Some(v) = field(src, obj, name)? else {
    return Ok(None);
  };
  match src.object(v) {
    Some(o) if src.kind(v).is_object() => Ok(Some(o)),
    _ => Err(Thrown::type_error(format!("`{name}` must be an object")).into()),
  }
}

/// `copy` / `externalCopy` / `reference` / `promise` (at most one of the first three).
pub fn transfer<S: OptionSource>(
  src: &mut S,
  obj: Option<S::Object>,
) -> Result<TransferOptions, S::Error> {
  let copy = flag(src, obj, "copy")?;
  let external_copy = flag(src, obj, "externalCopy")?;
  let reference = flag(src, obj, "reference")?;
  let promise = flag(src, obj, "promise")?;
  Ok(TransferOptions::new(
    copy,
    external_copy,
    reference,
    promise,
  )?)
}

/// The nested `arguments` or `result` transfer options (`TransferOptionsBidirectional`).
pub fn transfer_nested<S: OptionSource>(
  src: &mut S,
  obj: Option<S::Object>,
  name: &'static str,
) -> Result<TransferOptions, S::Error> {
  let o = sub_object(src, obj, name)?;
  transfer(src, o)
}

/// `timeout` in ms (0 = none), as isolated-vm reads it: an int32 (V8's `IsInt32`: no strings,
/// NaN, fractions, `-0` or values outside the int32 range, else TypeError "`timeout` must be a
/// 32-bit number"), taken as unsigned, so a negative timeout is a very long one (`-1` is
/// 2^32 - 1 ms); `undefined` and `null` are none.
pub fn timeout<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<u32, S::Error> {
  let Some(v) = field(src, obj, "timeout")? else {
    return Ok(0);
  };
  if src.kind(v) == Kind::Number {
    let n = src.number(v);
    let int32 = n.fract() == 0.0
      && n >= f64::from(i32::MIN)
      && n <= f64::from(i32::MAX)
      && !(n == 0.0 && n.is_sign_negative());
    if int32 {
      return Ok(n as i32 as u32);
    }
  }
  Err(Thrown::type_error(msg::TIMEOUT_TYPE).into())
}

/// ScriptOrigin: `filename` (default `<isolated-vm>`), `lineOffset`, `columnOffset` (int32).
pub fn origin<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Origin, S::Error> {
  let filename = string(src, obj, "filename")?.unwrap_or_else(|| "<isolated-vm>".to_string());
  let mut int = |name: &'static str| -> Result<i32, S::Error> {
    Ok(match number(src, obj, name)? {
      None => 0,
      Some(n) => n.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32,
    })
  };
  let line_offset = int("lineOffset")?;
  let column_offset = int("columnOffset")?;
  Ok(Origin {
    filename,
    line_offset,
    column_offset,
  })
}

/// An option object of one call site, read from an (already checked) options object.
pub trait Schema: Sized {
  /// Reads the fields (`obj` is `None` when no options were passed).
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error>;

  /// Checks the options argument `v` (parameter `n` of `what`) and reads it.
  fn parse<S: OptionSource>(
    src: &mut S,
    v: S::Value,
    what: &str,
    n: u32,
  ) -> Result<Self, S::Error> {
    let obj = object_arg(src, v, what, n)?;
    Self::read(src, obj)
  }
}

impl Schema for TransferOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    transfer(src, obj)
  }
}

/// `reference.get(key, { accessors, ...transfer })`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetOptions {
  /// Allow getters.
  pub accessors: bool,
  /// How the result leaves.
  pub transfer: TransferOptions,
}

impl Schema for GetOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let accessors = flag(src, obj, "accessors")?;
    let transfer = transfer(src, obj)?;
    Ok(GetOptions {
      accessors,
      transfer,
    })
  }
}

/// `reference.apply(receiver, args, { timeout, arguments, result })`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
  /// ms, 0 = none.
  pub timeout: u32,
  /// How the receiver and arguments leave the caller.
  pub arguments: TransferOptions,
  /// How the result leaves the callee.
  pub result: TransferOptions,
  /// A `result` field was given (refused by `applySyncPromise`).
  pub has_result: bool,
}

impl Schema for ApplyOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let timeout = timeout(src, obj)?;
    let arguments = transfer_nested(src, obj, "arguments")?;
    let has_result = field(src, obj, "result")?.is_some();
    let result = transfer_nested(src, obj, "result")?;
    Ok(ApplyOptions {
      timeout,
      arguments,
      result,
      has_result,
    })
  }
}

impl ApplyOptions {
  /// `applySyncPromise` refuses `result` options (SPEC §2.4).
  pub fn for_sync_promise(self) -> Result<Self, Thrown> {
    if self.has_result {
      return Err(Thrown::type_error(
        "`result` options are not available for `applySyncPromise`",
      ));
    }
    Ok(self)
  }
}

/// `context.eval(code, { filename, lineOffset, columnOffset, timeout, ...transfer })`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalOptions {
  /// ScriptOrigin.
  pub origin: Origin,
  /// ms, 0 = none.
  pub timeout: u32,
  /// How the completion value leaves.
  pub transfer: TransferOptions,
}

impl Schema for EvalOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let origin = origin(src, obj)?;
    let timeout = timeout(src, obj)?;
    let transfer = transfer(src, obj)?;
    Ok(EvalOptions {
      origin,
      timeout,
      transfer,
    })
  }
}

/// `context.evalClosure(code, args, { ...origin, timeout, arguments, result })`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosureOptions {
  /// ScriptOrigin.
  pub origin: Origin,
  /// ms, 0 = none.
  pub timeout: u32,
  /// How the arguments leave the caller.
  pub arguments: TransferOptions,
  /// How the result leaves the guest.
  pub result: TransferOptions,
}

impl Schema for ClosureOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let origin = origin(src, obj)?;
    let timeout = timeout(src, obj)?;
    let arguments = transfer_nested(src, obj, "arguments")?;
    let result = transfer_nested(src, obj, "result")?;
    Ok(ClosureOptions {
      origin,
      timeout,
      arguments,
      result,
    })
  }
}

/// `script.run(context, { release, timeout, ...transfer })`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
  /// ms, 0 = none.
  pub timeout: u32,
  /// Release the script afterwards.
  pub release: bool,
  /// How the completion value leaves.
  pub transfer: TransferOptions,
}

impl Schema for RunOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let release = flag(src, obj, "release")?;
    let timeout = timeout(src, obj)?;
    let transfer = transfer(src, obj)?;
    Ok(RunOptions {
      timeout,
      release,
      transfer,
    })
  }
}

/// `isolate.compileScript(code, { filename, lineOffset, columnOffset, cachedData,
/// produceCachedData })` and the same fields of `compileModule` (whose `meta` each face reads
/// itself: it is a function of the caller's heap).
#[derive(Debug, Clone)]
pub struct CompileOptions {
  /// ScriptOrigin.
  pub origin: Origin,
  /// The code cache to consume, and whether to produce one.
  pub cache: CacheOptions,
}

impl Schema for CompileOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let origin = origin(src, obj)?;
    let cached_data = match field(src, obj, "cachedData")? {
      None => None,
      Some(v) if !src.kind(v).is_object() => {
        return Err(Thrown::type_error("`cachedData` must be an object").into())
      }
      Some(v) => match src.external_copy(v) {
        Some(data) if matches!(data.value(), Ok(Value::ArrayBuffer { .. })) => Some(data),
        _ => {
          return Err(
            Thrown::type_error("`cachedData` must be an ExternalCopy to ArrayBuffer").into(),
          )
        }
      },
    };
    let produce = flag(src, obj, "produceCachedData")?;
    Ok(CompileOptions {
      origin,
      cache: CacheOptions {
        cached_data,
        produce,
      },
    })
  }
}

/// `CachedDataOptions` (SPEC §1.3): V8's code cache in and out of a compile.
#[derive(Debug, Clone, Default)]
pub struct CacheOptions {
  /// `cachedData`: an ExternalCopy of an ArrayBuffer holding a code cache.
  pub cached_data: Option<std::sync::Arc<crate::transfer::external::ExternalData>>,
  /// `produceCachedData`.
  pub produce: bool,
}

/// `{ release }` of `deref` / `derefInto` (`ReleaseOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReleaseOptions {
  /// Release the handle afterwards.
  pub release: bool,
}

impl Schema for ReleaseOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    Ok(ReleaseOptions {
      release: flag(src, obj, "release")?,
    })
  }
}

/// `externalCopy.copy({ release, transferIn })` (`ExternalCopyCopyOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyOptions {
  /// Release the handle afterwards.
  pub release: bool,
  /// Move an ArrayBuffer's contents in.
  pub transfer_in: bool,
}

impl Schema for CopyOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let release = flag(src, obj, "release")?;
    let transfer_in = flag(src, obj, "transferIn")?;
    Ok(CopyOptions {
      release,
      transfer_in,
    })
  }
}

/// `new Reference(value, { unsafeInherit })`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReferenceOptions {
  /// Walk the prototype chain in `get`.
  pub unsafe_inherit: bool,
}

impl Schema for ReferenceOptions {
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    Ok(ReferenceOptions {
      unsafe_inherit: flag(src, obj, "unsafeInherit")?,
    })
  }
}

impl Schema for Flavor {
  /// `new Callback(fn, { async } | { ignored } | { sync })`: sync is the default.
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    Ok(if flag(src, obj, "async")? {
      Flavor::Async
    } else if flag(src, obj, "ignored")? {
      Flavor::Ignored
    } else {
      Flavor::Sync
    })
  }
}

/// `isolate.createContext({ inspector })`: only checked for being an object (no inspector).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextOptions;

impl Schema for ContextOptions {
  fn read<S: OptionSource>(_: &mut S, _: Option<S::Object>) -> Result<Self, S::Error> {
    Ok(ContextOptions)
  }
}

impl Schema for crate::isolate::IsolateOptions {
  /// `new Isolate({ memoryLimit, onCatastrophicError, snapshot })` (SPEC §1.3).
  fn read<S: OptionSource>(src: &mut S, obj: Option<S::Object>) -> Result<Self, S::Error> {
    let limit_mb = number(src, obj, "memoryLimit")?.unwrap_or(128.0);
    if limit_mb < 8.0 {
      return Err(Thrown::error("`memoryLimit` must be at least 8").into());
    }
    if let Some(f) = field(src, obj, "onCatastrophicError")? {
      if src.kind(f) != Kind::Function {
        return Err(Thrown::type_error("`onCatastrophicError` must be a function").into());
      }
    }
    if field(src, obj, "snapshot")?.is_some() {
      return Err(Thrown::type_error("`snapshot` must be an ExternalCopy to ArrayBuffer").into());
    }
    if let Some(f) = field(src, obj, "importModuleDynamically")? {
      if src.kind(f) != Kind::Function {
        return Err(Thrown::type_error("`importModuleDynamically` must be a function").into());
      }
    }
    // Cap at 1 TiB so the byte count stays representable; V8 clamps its own heap further.
    Ok(crate::isolate::IsolateOptions {
      memory_limit: (limit_mb.min(1024.0 * 1024.0) * 1024.0 * 1024.0) as usize,
      import_hook: None,
    })
  }
}

/// A property key of a Reference operation (SPEC §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
  /// A string key.
  String,
  /// A uint32 number.
  Index(u32),
  /// A symbol: usable only where the referenced value lives in the caller's own heap.
  Symbol,
}

/// Classifies a key argument: string, symbol or uint32 number, else TypeError "Invalid `key`".
pub fn key<S: OptionSource>(src: &mut S, v: S::Value) -> Result<KeyKind, Thrown> {
  match src.kind(v) {
    Kind::String => Ok(KeyKind::String),
    Kind::Symbol => Ok(KeyKind::Symbol),
    Kind::Number => {
      let n = src.number(v);
      if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 {
        Ok(KeyKind::Index(n as u32))
      } else {
        Err(Thrown::type_error(msg::INVALID_KEY))
      }
    }
    _ => Err(Thrown::type_error(msg::INVALID_KEY)),
  }
}
