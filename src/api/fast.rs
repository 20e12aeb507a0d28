//! The hottest methods (`script.run*`, `context.eval*` / `evalClosure*`, `reference.apply*` /
//! `get*` / `set*`, in their sync, async and ignored flavours, `isolate.compileScript*` /
//! `compileModule*`, `module.evaluate*`) as plain Node-API callbacks
//! instead of napi-rs's generated ones.
//!
//! napi-rs wraps every method call in bookkeeping that these calls do not need (a receiver
//! borrow registered in a process-wide map behind a mutex, a second property lookup for the
//! receiver's type tag, typed argument conversions): about a quarter of a `runSync` of `1+1`.
//! Here the receiver is unwrapped with one `napi_unwrap`; the first call on an object checks its
//! class by napi-rs's type tag, and the object's address is remembered as checked until the
//! native object is dropped ([`forget`]), so later calls skip that lookup. A receiver of the
//! wrong class (`Script.prototype.runSync.call({})`) throws `TypeError: Illegal invocation`, as
//! napi-rs's methods do on Node. All these classes' methods take `&self` (their state is in
//! cells), so a reentrant call on the same object aliases nothing.

use crate::api::context::Context;
use crate::api::isolate::{Isolate, Unit};
use crate::api::module::Module;
use crate::api::reference::Reference;
use crate::api::script::Script;
use crate::bridge::js::{self, Raw};
use crate::bridge::Flavor;
use napi::bindgen_prelude::{ClassInstance, FromNapiValue, TypeTag, Unknown};
use napi::{sys, Env, JsValue};
use std::any::TypeId;
use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr::null_mut;

thread_local! {
  /// Native objects (address, class) whose JS object passed the type-tag check.
  static CHECKED: RefCell<crate::ids::IdSet<(usize, TypeId)>> = RefCell::new(crate::ids::IdSet::default());
}

/// Forgets `native` as checked: called when a native object of these classes is dropped, so
/// its address, once reused, is checked again.
pub fn forget<T: 'static>(native: &T) {
  let key = (native as *const T as usize, TypeId::of::<T>());
  // During thread teardown the set may be gone already: nothing to forget then.
  let _ = CHECKED.try_with(|c| c.borrow_mut().remove(&key));
}

/// The native object behind `this`, if `this` is an instance of `T`.
///
/// # Safety
/// `env` and `this` are the live arguments of a Node-API callback on this thread.
unsafe fn receiver<'a, T: TypeTag + 'static>(
  env: sys::napi_env,
  this: sys::napi_value,
) -> Option<&'a T> {
  let mut ptr: *mut c_void = null_mut();
  // SAFETY: valid env and value (the caller's contract).
  if unsafe { sys::napi_unwrap(env, this, &mut ptr) } != sys::Status::napi_ok || ptr.is_null() {
    return None;
  }
  let key = (ptr as usize, TypeId::of::<T>());
  if !CHECKED.with(|c| c.borrow().contains(&key)) {
    // SAFETY: FromNapiValue checks the object's type tag before it casts the pointer.
    let instance = unsafe { ClassInstance::<T>::from_napi_value(env, this) }.ok()?;
    if !std::ptr::eq(&*instance as *const T, ptr as *const T) {
      return None;
    }
    CHECKED.with(|c| c.borrow_mut().insert(key));
  }
  // SAFETY: `ptr` is the address of a live `T` wrapped in `this` (checked above, or earlier
  // and not dropped since: `forget` runs in `T`'s drop). napi-rs frees it only in the object's
  // finaliser, which cannot run while `this` is on the stack.
  Some(unsafe { &*(ptr as *const T) })
}

/// The most arguments a fast method reads (`applySync`'s receiver object, receiver, array,
/// options and up to [`SPREAD`] elements of the array).
const MAX_ARGS: usize = 4 + SPREAD;

/// The most elements of an `applySync` argument array that `index.js` passes spread.
const SPREAD: usize = 4;

/// One fast method: its class, JS name and body (given the receiver and the arguments, missing
/// ones `undefined`; `argc` is how many were passed).
trait Method {
  type Class: TypeTag + 'static;
  const NAME: &'static str;
  /// The receiver is the first argument instead of `this` (a function that a JS wrapper calls).
  const RECEIVER_FIRST: bool;
  fn call(
    this: &Self::Class,
    env: Env,
    args: &[sys::napi_value; MAX_ARGS],
    argc: usize,
  ) -> napi::Result<Raw>;
}

/// `Option<Unknown>` as napi-rs converts it: `None` for `undefined` and `null`.
fn optional<'a>(env: sys::napi_env, v: sys::napi_value) -> Option<Unknown<'a>> {
  match js::type_of(env, v) {
    sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
    // SAFETY: a live value of this callback.
    _ => Some(unsafe { Unknown::from_raw_unchecked(env, v) }),
  }
}

fn unknown<'a>(env: sys::napi_env, v: sys::napi_value) -> Unknown<'a> {
  // SAFETY: a live value of this callback.
  unsafe { Unknown::from_raw_unchecked(env, v) }
}

unsafe extern "C" fn callback<M: Method>(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  let run = || -> napi::Result<sys::napi_value> {
    let mut argc = MAX_ARGS;
    let mut argv = [null_mut(); MAX_ARGS];
    let mut this = null_mut();
    // SAFETY: the live callback info of this call; argv has room for argc values (the rest
    // are filled with `undefined`).
    js::check(unsafe {
      sys::napi_get_cb_info(
        env,
        info,
        &mut argc,
        argv.as_mut_ptr(),
        &mut this,
        null_mut(),
      )
    })?;
    let argc = argc.min(MAX_ARGS);
    if M::RECEIVER_FIRST {
      this = argv[0];
    }
    // SAFETY: this callback's env and receiver.
    let Some(native) = (unsafe { receiver::<M::Class>(env, this) }) else {
      return Err(js::type_error(env, "Illegal invocation"));
    };
    M::call(native, Env::from(env), &argv, argc).map(|r| r.0)
  };
  guarded(env, run)
}

/// The body of a plain Node-API callback: its value, or, for an error or a panic, null with the
/// error thrown (an error already thrown stays pending).
fn guarded(
  env: sys::napi_env,
  run: impl FnOnce() -> napi::Result<sys::napi_value>,
) -> sys::napi_value {
  let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
    .map_err(napi::bindgen_prelude::panic_to_error)
    .and_then(|r| r);
  match out {
    Ok(v) => v,
    Err(e) => {
      // SAFETY: Node's thread, inside the callback.
      unsafe { napi::JsError::from(e).throw_into(env) };
      null_mut()
    }
  }
}

/// A JS function `name` calling the plain Node-API callback `cb`.
fn js_function(
  env: sys::napi_env,
  name: &'static str,
  cb: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> napi::Result<sys::napi_value> {
  let mut f = null_mut();
  // SAFETY: valid env; the name is passed with its length; the callback is a plain function.
  js::check(unsafe {
    sys::napi_create_function(
      env,
      name.as_ptr().cast(),
      name.len() as isize,
      Some(cb),
      null_mut(),
      &mut f,
    )
  })?;
  Ok(f)
}

/// Defines a [`Method`]: `name: Class, "jsName" [, receiver first] => |this, env, e, args, argc| body`
/// (`e` is the raw env).
macro_rules! method {
  ($(#[$doc:meta])* $name:ident: $class:ty, $js:literal, $first:literal =>
    |$this:ident, $env:ident, $e:ident, $a:ident, $argc:ident| $body:expr) => {
    $(#[$doc])*
    struct $name;
    impl Method for $name {
      type Class = $class;
      const NAME: &'static str = $js;
      const RECEIVER_FIRST: bool = $first;
      fn call(
        $this: &$class,
        $env: Env,
        $a: &[sys::napi_value; MAX_ARGS],
        $argc: usize,
      ) -> napi::Result<Raw> {
        let $e = $env.raw();
        $body
      }
    }
  };
}

method!(RunSync: Script, "runSync", false => |this, env, e, a, _argc| {
  this.run_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Sync)
});

method!(EvalSync: Context, "evalSync", false => |this, env, e, a, _argc| {
  this.eval_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Sync)
});

method!(EvalClosureSync: Context, "evalClosureSync", false => |this, env, e, a, _argc| {
  let (code, args, opts) = (unknown(e, a[0]), optional(e, a[1]), optional(e, a[2]));
  this.closure_impl(env, code, args, opts, Flavor::Sync)
});

method!(
  /// `reference.applySync(receiver, args, options)` as called by its wrapper in `index.js`:
  /// `(reference, receiver, args, options, ...elements)`, where `elements` are the first
  /// elements of `args` when it is a short array (read there, in optimised JavaScript, instead
  /// of one Node-API call each).
  ApplySync: Reference, "applySync", true => |this, env, e, a, argc| {
    let spread = &a[4..argc.max(4)];
    let (recv, args, opts) = (unknown(e, a[1]), optional(e, a[2]), optional(e, a[3]));
    this.apply_impl(env, recv, args, spread, opts, Flavor::Sync)
  }
);

method!(GetSync: Reference, "getSync", false => |this, env, e, a, _argc| {
  this.get_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Sync)
});

method!(SetSync: Reference, "setSync", false => |this, env, e, a, _argc| {
  let (key, value, opts) = (unknown(e, a[0]), unknown(e, a[1]), optional(e, a[2]));
  this.set_impl(env, key, value, opts, Flavor::Sync)
});

method!(Run: Script, "run", false => |this, env, e, a, _argc| {
  js::rejecting(e, this.run_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Async))
});

method!(RunIgnored: Script, "runIgnored", false => |this, env, e, a, _argc| {
  this.run_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Ignored)
});

method!(Eval: Context, "eval", false => |this, env, e, a, _argc| {
  js::rejecting(e, this.eval_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Async))
});

method!(EvalIgnored: Context, "evalIgnored", false => |this, env, e, a, _argc| {
  this.eval_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Ignored)
});

method!(EvalClosure: Context, "evalClosure", false => |this, env, e, a, _argc| {
  let (code, args, opts) = (unknown(e, a[0]), optional(e, a[1]), optional(e, a[2]));
  js::rejecting(e, this.closure_impl(env, code, args, opts, Flavor::Async))
});

method!(EvalClosureIgnored: Context, "evalClosureIgnored", false => |this, env, e, a, _argc| {
  let (code, args, opts) = (unknown(e, a[0]), optional(e, a[1]), optional(e, a[2]));
  this.closure_impl(env, code, args, opts, Flavor::Ignored)
});

method!(Apply: Reference, "apply", false => |this, env, e, a, _argc| {
  let (recv, args, opts) = (unknown(e, a[0]), optional(e, a[1]), optional(e, a[2]));
  js::rejecting(e, this.apply_impl(env, recv, args, &[], opts, Flavor::Async))
});

method!(ApplyIgnored: Reference, "applyIgnored", false => |this, env, e, a, _argc| {
  let (recv, args, opts) = (unknown(e, a[0]), optional(e, a[1]), optional(e, a[2]));
  this.apply_impl(env, recv, args, &[], opts, Flavor::Ignored)
});

method!(Get: Reference, "get", false => |this, env, e, a, _argc| {
  js::rejecting(e, this.get_impl(env, unknown(e, a[0]), optional(e, a[1]), Flavor::Async))
});

method!(Set: Reference, "set", false => |this, env, e, a, _argc| {
  let (key, value, opts) = (unknown(e, a[0]), unknown(e, a[1]), optional(e, a[2]));
  js::rejecting(e, this.set_impl(env, key, value, opts, Flavor::Async))
});

method!(SetIgnored: Reference, "setIgnored", false => |this, env, e, a, _argc| {
  let (key, value, opts) = (unknown(e, a[0]), unknown(e, a[1]), optional(e, a[2]));
  this.set_impl(env, key, value, opts, Flavor::Ignored)
});

method!(CompileScriptSync: Isolate, "compileScriptSync", false => |this, env, e, a, argc| {
  let (code, opts, pre) = (unknown(e, a[0]), optional(e, a[1]), prefetched(a, argc));
  this.compile_impl(env, code, opts, pre, Flavor::Sync, Unit::Script)
});

method!(CompileScript: Isolate, "compileScript", false => |this, env, e, a, argc| {
  let (code, opts, pre) = (unknown(e, a[0]), optional(e, a[1]), prefetched(a, argc));
  js::rejecting(e, this.compile_impl(env, code, opts, pre, Flavor::Async, Unit::Script))
});

method!(CompileModuleSync: Isolate, "compileModuleSync", false => |this, env, e, a, argc| {
  let (code, opts, pre) = (unknown(e, a[0]), optional(e, a[1]), prefetched(a, argc));
  this.compile_impl(env, code, opts, pre, Flavor::Sync, Unit::Module)
});

method!(CompileModule: Isolate, "compileModule", false => |this, env, e, a, argc| {
  let (code, opts, pre) = (unknown(e, a[0]), optional(e, a[1]), prefetched(a, argc));
  js::rejecting(e, this.compile_impl(env, code, opts, pre, Flavor::Async, Unit::Module))
});

/// The compile option fields `index.js` read already and passed after the code and options
/// (see `COMPILE_FIELDS`), when it passed them.
fn prefetched(a: &[sys::napi_value; MAX_ARGS], argc: usize) -> Option<&[sys::napi_value]> {
  let n = crate::api::isolate::COMPILE_FIELDS.len();
  (argc == 2 + n).then(|| &a[2..2 + n])
}

method!(EvaluateSync: Module, "evaluateSync", false => |this, env, e, a, _argc| {
  this.evaluate_impl(env, optional(e, a[0]), Flavor::Sync)
});

method!(Evaluate: Module, "evaluate", false => |this, env, e, a, _argc| {
  js::rejecting(e, this.evaluate_impl(env, optional(e, a[0]), Flavor::Async))
});

/// Method `M` as a JS function.
fn function<M: Method>(env: sys::napi_env) -> napi::Result<sys::napi_value> {
  js_function(env, M::NAME, callback::<M>)
}

/// Defines method `M` on `proto` with the attributes napi-rs gives methods (enumerable, not
/// writable, not configurable).
fn define<M: Method>(env: sys::napi_env, proto: sys::napi_value) -> napi::Result<()> {
  let f = function::<M>(env)?;
  let key = js::string(env, M::NAME)?;
  js::define_data(env, proto, key, f, sys::PropertyAttributes::enumerable)
}

/// Sets method `M` on `obj` under its name, for a wrapper in `index.js`.
fn export<M: Method>(env: sys::napi_env, obj: sys::napi_value) -> napi::Result<()> {
  js::set_named(env, obj, M::NAME, function::<M>(env)?)
}

/// `new Isolate(options)`, `new Reference(value, options)`, `new ExternalCopy(value, options)`
/// and `new Callback(fn, options)` as `index.js` constructs them: the object is made by
/// `api/instance.rs`, never by napi-rs's construct path (its per-object bookkeeping, and a
/// finalizer that deletes a Node-API reference, which may not run inside a garbage collection).
trait Factory: napi::bindgen_prelude::ObjectFinalize + TypeTag + Sized + 'static {
  /// The registered class name, NUL-terminated.
  const CLASS: &'static str;
  /// The function's JS name.
  const NAME: &'static str;
  /// The native object, from the constructor's first two arguments.
  fn construct(env: sys::napi_env, args: [sys::napi_value; 2]) -> napi::Result<Self>;
}

impl Factory for crate::api::isolate::Isolate {
  const CLASS: &'static str = "Isolate\0";
  const NAME: &'static str = "newIsolate";
  fn construct(env: sys::napi_env, args: [sys::napi_value; 2]) -> napi::Result<Self> {
    Self::create(Env::from(env), optional(env, args[0]))
  }
}

/// A factory for a class constructed as `new X(value, options)`.
macro_rules! value_factory {
  ($ty:ty, $class:literal, $name:literal) => {
    impl Factory for $ty {
      const CLASS: &'static str = $class;
      const NAME: &'static str = $name;
      fn construct(env: sys::napi_env, args: [sys::napi_value; 2]) -> napi::Result<Self> {
        let (value, options) = (unknown(env, args[0]), optional(env, args[1]));
        Self::create(Env::from(env), value, options)
      }
    }
  };
}

value_factory!(Reference, "Reference\0", "newReference");
value_factory!(
  crate::api::external_copy::ExternalCopy,
  "ExternalCopy\0",
  "newExternalCopy"
);
value_factory!(crate::api::callback::Callback, "Callback\0", "newCallback");

unsafe extern "C" fn factory<F: Factory>(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  let run = || -> napi::Result<sys::napi_value> {
    let mut argc = 2;
    let mut argv = [null_mut(); 2];
    // SAFETY: the live callback info of this call; argv has room for argc values (missing
    // ones are `undefined`).
    js::check(unsafe {
      sys::napi_get_cb_info(
        env,
        info,
        &mut argc,
        argv.as_mut_ptr(),
        null_mut(),
        null_mut(),
      )
    })?;
    let value = F::construct(env, argv)?;
    crate::api::instance::new(env, F::CLASS, value)
  };
  guarded(env, run)
}

/// Sets factory `F` on `obj` under its name, for `index.js`.
fn export_factory<F: Factory>(env: sys::napi_env, obj: sys::napi_value) -> napi::Result<()> {
  js::set_named(env, obj, F::NAME, js_function(env, F::NAME, factory::<F>)?)
}

/// Installs the fast methods on the classes' prototypes (called once by `index.js`), and
/// returns, by name, those `index.js` wraps (`reference.applySync`, which gets the first
/// elements of its argument array spread, and the compile methods, which get their option
/// fields read in advance).
#[napi_derive::napi(js_name = "__installFastMethods", catch_unwind)]
pub fn install(
  env: Env,
  script: Unknown,
  context: Unknown,
  reference: Unknown,
  isolate: Unknown,
  module: Unknown,
) -> napi::Result<Raw> {
  let e = env.raw();
  let protos =
    [script, context, reference, isolate, module].map(|u| js::get_named(e, u.raw(), "prototype"));
  let [script, context, reference, _isolate, module] = protos;
  let (script, context, reference, module) = (script?, context?, reference?, module?);
  define::<EvaluateSync>(e, module)?;
  define::<Evaluate>(e, module)?;
  define::<RunSync>(e, script)?;
  define::<Run>(e, script)?;
  define::<RunIgnored>(e, script)?;
  define::<EvalSync>(e, context)?;
  define::<Eval>(e, context)?;
  define::<EvalIgnored>(e, context)?;
  define::<EvalClosureSync>(e, context)?;
  define::<EvalClosure>(e, context)?;
  define::<EvalClosureIgnored>(e, context)?;
  define::<GetSync>(e, reference)?;
  define::<Get>(e, reference)?;
  define::<SetSync>(e, reference)?;
  define::<Set>(e, reference)?;
  define::<SetIgnored>(e, reference)?;
  define::<Apply>(e, reference)?;
  define::<ApplyIgnored>(e, reference)?;
  let mut wrapped = null_mut();
  // SAFETY: Node's thread, valid env.
  js::check(unsafe { sys::napi_create_object(e, &mut wrapped) })?;
  export::<ApplySync>(e, wrapped)?;
  export::<CompileScriptSync>(e, wrapped)?;
  export::<CompileScript>(e, wrapped)?;
  export::<CompileModuleSync>(e, wrapped)?;
  export::<CompileModule>(e, wrapped)?;
  export_factory::<crate::api::isolate::Isolate>(e, wrapped)?;
  export_factory::<Reference>(e, wrapped)?;
  export_factory::<crate::api::external_copy::ExternalCopy>(e, wrapped)?;
  export_factory::<crate::api::callback::Callback>(e, wrapped)?;
  Ok(Raw(wrapped))
}
