//! The error catalogue: every message the library itself produces, and the JavaScript classes
//! errors are materialised with. Texts follow SPEC.md §2.4 exactly, typos included.
//!
//! The owned error value that travels between threads, `transfer::thrown::Thrown`, lives with
//! the value tree it may carry.

/// The JavaScript constructor an error is materialised with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
  /// `Error`
  Error,
  /// `RangeError`
  RangeError,
  /// `ReferenceError`
  ReferenceError,
  /// `SyntaxError`
  SyntaxError,
  /// `TypeError`
  TypeError,
}

impl ErrorKind {
  /// The global constructor name.
  pub fn name(self) -> &'static str {
    match self {
      ErrorKind::Error => "Error",
      ErrorKind::RangeError => "RangeError",
      ErrorKind::ReferenceError => "ReferenceError",
      ErrorKind::SyntaxError => "SyntaxError",
      ErrorKind::TypeError => "TypeError",
    }
  }

  /// The kind preserved for an error whose `name` is `name` (SPEC §2.3: only five survive).
  pub fn from_name(name: &str) -> Option<ErrorKind> {
    Some(match name {
      "Error" => ErrorKind::Error,
      "RangeError" => ErrorKind::RangeError,
      "ReferenceError" => ErrorKind::ReferenceError,
      "SyntaxError" => ErrorKind::SyntaxError,
      "TypeError" => ErrorKind::TypeError,
      _ => return None,
    })
  }
}

/// Library messages (SPEC §2.4).
pub mod msg {
  /// A `timeout` option that is not an int32.
  pub const TIMEOUT_TYPE: &str = "`timeout` must be a 32-bit number";
  /// `timeout` expired.
  pub const TIMED_OUT: &str = "Script execution timed out.";
  /// `dispose()` while the call was running.
  pub const DISPOSED_DURING: &str = "Isolate was disposed during execution";
  /// The memory limit was hit during the call.
  pub const DISPOSED_MEMORY: &str = "Isolate was disposed during execution due to memory limit";
  /// Async call on a disposed isolate, or a queued call dropped by disposal.
  pub const DISPOSED: &str = "Isolate is disposed";
  /// Sync call on a disposed isolate (sic).
  pub const DISPOSED_SYNC: &str = "Isolated is disposed";
  /// Second `dispose()`.
  pub const ALREADY_DISPOSED: &str = "Isolate is already disposed";
  /// A value the call site cannot transfer.
  pub const NON_TRANSFERABLE: &str = "A non-transferable value was passed";
  /// More than one of the exclusive transfer options.
  pub const EXCLUSIVE_TRANSFER: &str =
    "Only one of `copy`, `externalCopy`, or `reference` may be set";
  /// A thrown object that is not an Error.
  pub const NON_ERROR_THROWN: &str = "An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.";
  /// Context used after release.
  pub const CONTEXT_RELEASED: &str = "Context is released";
  /// Script used after release.
  pub const SCRIPT_RELEASED: &str = "Script has been released";
  /// Reference used after release.
  pub const REFERENCE_RELEASED: &str = "Reference has been released";
  /// Use of a released module.
  pub const MODULE_RELEASED: &str = "Module has been released";
  /// `namespace` before `evaluate` ran.
  pub const MODULE_NOT_INSTANTIATED: &str = "Module has not been instantiated.";
  /// `evaluate` before `instantiate`.
  pub const MODULE_UNINSTANTIATED: &str = "Module is uninstantiated";
  /// A resolver answered something else than a Module.
  pub const NOT_MODULE: &str = "Resolved dependency was not `Module`";
  /// A `meta` callback that is not a function of the isolate compiling the module.
  pub const META_FOREIGN: &str = "`meta` callback must belong to entered isolate";
  /// `import()` in a guest without an `importModuleDynamically` hook.
  pub const IMPORT_NOT_SUPPORTED: &str = "Not supported";
  /// Script run in a context of another isolate.
  pub const INVALID_CONTEXT: &str = "Invalid context";
  /// isolated-vm's check of a Context parameter (`script.run*`, `module.instantiate*`): no
  /// argument, not an object, an object of another kind (its text, "something else").
  pub const CONTEXT_MISSING: &str = "`undefined` requires at least 1 parameter";
  /// See [`CONTEXT_MISSING`].
  pub const CONTEXT_NOT_OBJECT: &str = "`undefined` requires parameter 1 to be an object";
  /// See [`CONTEXT_MISSING`].
  pub const CONTEXT_OTHER: &str = "`undefined` requires parameter 1 to be something else";
  /// Property access on a non-object Reference.
  pub const NOT_OBJECT: &str = "Reference is not an object";
  /// Property key of the wrong type.
  pub const INVALID_KEY: &str = "Invalid `key`";
  /// Accessor met without `accessors: true`.
  pub const PROPERTY_IS_GETTER: &str = "Property is getter";
  /// A proxy on the object or its prototype chain.
  pub const HAS_PROXY: &str = "Object is or has proxy";
  /// `set` could not define the property.
  pub const SET_FAILED: &str = "Set failed";
  /// `delete` failed.
  pub const DELETE_FAILED: &str = "Delete failed";
  /// `deref` from a foreign isolate.
  pub const CANNOT_DEREF: &str = "Cannot dereference this from current isolate";
  /// A SharedArrayBuffer created inside an isolate, arriving in Node (see the README).
  pub const FOREIGN_SAB: &str =
    "A SharedArrayBuffer created inside an isolate cannot be shared with Node.js (Node-API cannot wrap foreign shared memory)";
  /// A panic inside the library, reported instead of aborting the process.
  pub const INTERNAL: &str = "Internal error in isolated-vm-rs";
  /// [`INTERNAL`] with the panic's message, when it has one.
  pub fn internal(detail: Option<&str>) -> String {
    match detail {
      Some(d) => format!("{INTERNAL}: {d}"),
      None => INTERNAL.to_string(),
    }
  }
  /// Private constructor called.
  pub fn private_ctor(class: &str) -> String {
    format!("`{class}` constructor is private")
  }
  /// A constructor called without `new`.
  pub fn needs_new(class: &str) -> String {
    format!("`{class}` must be called with `new`")
  }
  /// A value that structured clone rejects.
  pub fn could_not_clone(what: &str) -> String {
    format!("{what} could not be cloned.")
  }
}
