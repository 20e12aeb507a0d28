//! isolated-vm's classes inside guest isolates (V8 FunctionTemplates), functions arriving from
//! the host, and the materialisation of handles in a guest. Isolate thread only.

pub mod callback;
pub mod external_copy;
mod host_call;
pub mod local_reference;
pub mod nested;
mod options;
pub mod panic_hook;
pub mod pending;
pub mod reference;
mod reference_args;
pub mod remote;
pub mod token;

use crate::error::msg;
use crate::isolate::handle::Handle;
use crate::isolate::host_ref::HostRef;
use crate::isolate::remote::{IsolateRef, RemoteHandle};
use crate::transfer::thrown::Thrown;
use crate::transfer::v8_in;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Per-isolate tables of the guest-side objects (kept in an isolate slot). Entries of handle
/// objects are dropped by `release()` or once the guest collects the object
/// (`crate::isolate::collect`).
#[derive(Default)]
pub struct GuestState {
  /// The Reference class.
  pub reference_template: Option<v8::Global<v8::FunctionTemplate>>,
  /// Targets of guest Reference objects, by the id in their internal field.
  pub targets: crate::ids::IdMap<u32, Arc<HostRef>>,
  /// Values of this isolate behind `new ivm.Reference(value)` objects: value and `typeof`.
  pub locals: crate::ids::IdMap<u32, (v8::Global<v8::Value>, crate::isolate::ops::register::Info)>,
  /// The ExternalCopy class.
  pub copy_template: Option<v8::Global<v8::FunctionTemplate>>,
  /// Data behind guest ExternalCopy objects, by id.
  pub copies: crate::ids::IdMap<u32, Arc<crate::transfer::external::ExternalData>>,
  /// Targets of guest Reference objects to values of other isolates.
  pub remotes: crate::ids::IdMap<u32, IsolateRef>,
  /// Functions of other threads behind guest callback functions, by id.
  pub callbacks: crate::ids::IdMap<u32, callback::Callee>,
  /// `new ivm.Callback(fn, opts)` objects of this isolate: function and mode.
  pub own_callbacks:
    crate::ids::IdMap<u32, (v8::Global<v8::Function>, crate::isolate::flavor::Flavor)>,
  /// Single-use tokens (`derefInto()`) and the handle they stand for until used.
  pub tokens: crate::ids::IdMap<u32, Option<Handle>>,
  /// The token class.
  pub token_template: Option<v8::Global<v8::FunctionTemplate>>,
  /// The Callback class.
  pub callback_template: Option<v8::Global<v8::FunctionTemplate>>,
  /// Isolates, contexts and scripts held by guest objects.
  pub nested: crate::ids::IdMap<u32, nested::Nested>,
  /// Other classes by name (Isolate, Context, Script).
  pub templates: HashMap<&'static str, v8::Global<v8::FunctionTemplate>>,
  /// Promises waiting for the host: resolver and the context to settle it in.
  pub pending: crate::ids::IdMap<u32, (v8::Global<v8::PromiseResolver>, v8::Global<v8::Context>)>,
  /// Asynchronous `module.instantiate()` linkers under way.
  pub linkers: nested::module::Linkers,
  next: u32,
}

/// A removed table entry (dropped outside the state's borrow: handles drop).
pub type Removed = (
  Option<Arc<HostRef>>,
  Option<Arc<crate::transfer::external::ExternalData>>,
  Option<(v8::Global<v8::Value>, crate::isolate::ops::register::Info)>,
  Option<IsolateRef>,
  Option<(v8::Global<v8::Function>, crate::isolate::flavor::Flavor)>,
  Option<Option<Handle>>,
  Option<nested::Nested>,
);

impl GuestState {
  /// Removes entry `id` of every handle-object table.
  pub fn remove(&mut self, id: u32) -> Removed {
    (
      self.targets.remove(&id),
      self.copies.remove(&id),
      self.locals.remove(&id),
      self.remotes.remove(&id),
      self.own_callbacks.remove(&id),
      self.tokens.remove(&id),
      self.nested.remove(&id),
    )
  }

  /// A fresh id for any of the tables.
  pub fn next_id(&mut self) -> u32 {
    self.next = self.next.wrapping_add(1).max(1);
    self.next
  }
}

/// Shared handle to the isolate's guest state.
pub type State = Rc<RefCell<GuestState>>;

/// The isolate's guest state (created on first use, with the hook that drops the entry of a
/// handle object the guest collected).
pub fn state(isolate: &mut v8::Isolate) -> State {
  if let Some(s) = isolate.get_slot::<State>() {
    return s.clone();
  }
  let s: State = Rc::new(RefCell::new(GuestState::default()));
  isolate.set_slot(s.clone());
  isolate.set_slot(crate::isolate::collect::OnCollect(release_collected));
  s
}

/// Hands the guest's handle objects to the value conversions below it
/// ([`crate::transfer::guest_handles`]). Called once when the addon loads.
pub fn install() {
  crate::transfer::guest_handles::install(crate::transfer::guest_handles::GuestHandles {
    materialize,
    handle_of,
  });
}

/// Drops table entry `id` once its guest object was collected. (If the state happens to be
/// borrowed then, the entry stays until the isolate is disposed.)
fn release_collected(isolate: &mut v8::Isolate, id: u32) {
  let Some(st) = isolate.get_slot::<State>().cloned() else {
    return;
  };
  let removed = match st.try_borrow_mut() {
    Ok(mut s) => Some((s.remove(id), s.callbacks.remove(&id))),
    Err(_) => None,
  };
  // Handles drop here, outside the borrow.
  drop(removed);
}

/// Live entries of the guest tables (tests use this to check for leaks).
pub fn live_entries(isolate: &mut v8::Isolate) -> usize {
  let st = state(isolate);
  let s = st.borrow();
  s.targets.len()
    + s.callbacks.len()
    + s.pending.len()
    + s.copies.len()
    + s.locals.len()
    + s.remotes.len()
    + s.own_callbacks.len()
    + s.tokens.len()
    + s.nested.len()
}

/// Defines V8 method callbacks that run `body(scope, &args, extra...)` through [`dispatch`]:
/// `methods! { name => body(extra, ...); ... }`.
macro_rules! methods {
  ($($name:ident => $body:ident($($extra:expr),*);)*) => {
    $(
      fn $name<'s>(
        scope: &mut v8::PinScope<'s, '_>,
        args: v8::FunctionCallbackArguments<'s>,
        rv: v8::ReturnValue<'s, v8::Value>,
      ) {
        $crate::guest::dispatch(scope, args, rv, |scope, args| $body(scope, args, $($extra),*));
      }
    )*
  };
}
pub(crate) use methods;

/// A guest method body: its value is returned, its error thrown.
pub type Body = for<'s, 'i> fn(
  &mut v8::PinScope<'s, 'i>,
  &v8::FunctionCallbackArguments<'s>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown>;

/// Runs a guest method body; a panic becomes an error instead of unwinding into V8.
pub fn dispatch<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  mut rv: v8::ReturnValue<'s, v8::Value>,
  body: Body,
) {
  match crate::unwind::catch(|| body(scope, &args)) {
    Ok(Ok(Some(v))) => rv.set(v),
    Ok(Ok(None)) => {}
    Ok(Err(e)) => throw(scope, e),
    Err(internal) => throw(scope, Thrown::error(internal)),
  }
}

/// A guest method's outcome in its flavour: an asynchronous method that failed before its call
/// was queued (an option, transfer, key or target error) returns a promise rejected with the
/// error instead of throwing, as isolated-vm's async methods do. Argument-type errors of the
/// method's signature still throw ([`Thrown::is_signature_error`]).
pub fn rejecting<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  mode: Flavor,
  r: Result<Option<v8::Local<'s, v8::Value>>, Thrown>,
) -> Result<Option<v8::Local<'s, v8::Value>>, Thrown> {
  let t = match r {
    Err(t) if mode == Flavor::Async && !t.is_signature_error() => t,
    r => return r,
  };
  let failed = || Thrown::error("Failed to create a promise");
  let resolver = v8::PromiseResolver::new(scope).ok_or_else(failed)?;
  let promise = resolver.get_promise(scope);
  let e = v8_in::thrown(scope, &t);
  resolver.reject(scope, e).ok_or_else(failed)?;
  Ok(Some(promise.into()))
}

/// A constructor's check that it was called with `new`.
pub fn require_new(args: &v8::FunctionCallbackArguments<'_>, class: &str) -> Result<(), Thrown> {
  if args.new_target().is_undefined() {
    return Err(Thrown::type_error(format!(
      "`{class}` must be called with `new`"
    )));
  }
  Ok(())
}

/// isolated-vm's argument-count check of a constructor, made before anything else is read
/// ("`Reference` requires at least 1 parameter").
pub fn require_args(
  args: &v8::FunctionCallbackArguments<'_>,
  class: &str,
  required: i32,
) -> Result<(), Thrown> {
  if args.length() < required {
    return Err(Thrown::type_error(format!(
      "`{class}` requires at least {required} parameter"
    )));
  }
  Ok(())
}

/// Throws `t` into the guest.
pub fn throw(scope: &mut v8::PinScope<'_, '_>, t: Thrown) {
  let v = v8_in::thrown(scope, &t);
  scope.throw_exception(v);
}

/// Materialises a handle in the current guest context; kinds without a guest form are
/// "A non-transferable value was passed".
pub fn materialize<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  h: &Handle,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let failed = || Thrown::error("Failed to create a handle object");
  match h {
    Handle::HostReference(host_ref) => {
      reference::new_instance(scope, host_ref.clone()).ok_or_else(failed)
    }
    Handle::HostFunction(cb) => {
      let callee = callback::Callee::Host(cb.clone());
      callback::new_function(scope, callee).ok_or_else(failed)
    }
    Handle::ExternalCopy(data) => {
      external_copy::new_instance(scope, data.clone()).ok_or_else(failed)
    }
    Handle::DerefInto(keep) => deref_into(scope, keep),
    Handle::Reference(r) => isolate_ref(scope, r),
    Handle::Function(f) => {
      if is_own(scope, &f.target) {
        return own_value(scope, &f.target);
      }
      let callee = callback::Callee::Isolate(f.clone());
      callback::new_function(scope, callee).ok_or_else(failed)
    }
    Handle::Isolate(host) => nested::isolate::new_instance(scope, host.clone()).ok_or_else(failed),
    Handle::Context(c) => nested::context::new_instance(scope, c.clone()),
    Handle::Script(s) => nested::script::new_instance(scope, s.clone()).ok_or_else(failed),
    Handle::Module(m) => nested::module::new_instance(scope, m.clone()).ok_or_else(failed),
    Handle::HostDerefInto(_) => Err(Thrown::type_error(CANNOT_DEREF_INTO)),
    Handle::Library => library(scope),
    Handle::Promise(slot) => {
      let (promise, settle) = pending::promise(scope).ok_or_else(failed)?;
      slot.wait(settle);
      Ok(promise.into())
    }
    // The value tree's V8 conversions materialise these two themselves.
    Handle::CopyInto(..) | Handle::SharedMemory(_) => {
      Err(Thrown::type_error(crate::error::msg::NON_TRANSFERABLE))
    }
  }
}

/// A `derefInto()` token arriving in a guest: the value, if this isolate owns it (`keep` holds
/// its reference table entry).
fn deref_into<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  keep: &RemoteHandle,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let own = scope
    .get_slot::<Arc<crate::isolate::thread::SharedState>>()
    .is_some_and(|s| Arc::ptr_eq(s, &keep.host.state));
  if !own {
    return Err(Thrown::type_error(CANNOT_DEREF_INTO));
  }
  let core = scope
    .get_slot::<Rc<crate::isolate::runtime::Core>>()
    .cloned()
    .ok_or_else(|| Thrown::error(crate::error::msg::DISPOSED))?;
  let g = core
    .tables
    .borrow()
    .references
    .get(&keep.id)
    .map(|e| e.value.clone());
  let g = g.ok_or_else(|| Thrown::error(crate::error::msg::REFERENCE_RELEASED))?;
  Ok(v8::Local::new(scope, &*g))
}

/// The error for a `derefInto()` token arriving anywhere but in the owner of its value.
pub const CANNOT_DEREF_INTO: &str = "Cannot dereference this into target isolate";

/// The token content for a Reference to an isolate's value.
pub fn deref_token(r: IsolateRef) -> Handle {
  Handle::DerefInto(r.handle)
}

fn is_own(scope: &mut v8::PinScope<'_, '_>, r: &IsolateRef) -> bool {
  scope
    .get_slot::<Arc<crate::isolate::thread::SharedState>>()
    .is_some_and(|s| r.is_in(s))
}

/// The value behind a reference of this isolate's table.
fn own_value<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  r: &IsolateRef,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let core = scope
    .get_slot::<Rc<crate::isolate::runtime::Core>>()
    .cloned()
    .ok_or_else(|| Thrown::error(msg::DISPOSED))?;
  let g = core
    .tables
    .borrow()
    .references
    .get(&r.handle.id)
    .map(|e| e.value.clone());
  let g = g.ok_or_else(|| Thrown::error(msg::REFERENCE_RELEASED))?;
  Ok(v8::Local::new(scope, &*g))
}

/// Whether a reference of this isolate's table has `unsafeInherit`.
fn own_inherit(scope: &mut v8::PinScope<'_, '_>, r: &IsolateRef) -> bool {
  scope
    .get_slot::<Rc<crate::isolate::runtime::Core>>()
    .cloned()
    .and_then(|core| {
      let t = core.tables.borrow();
      t.references.get(&r.handle.id).map(|e| e.inherit)
    })
    .unwrap_or(false)
}

/// A Reference arriving in a guest: a local Reference in its owner, else a remote one.
pub fn isolate_ref<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  r: &IsolateRef,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let failed = || Thrown::error("Failed to create a handle object");
  if is_own(scope, r) {
    let v = own_value(scope, r)?;
    let obj = reference::blank_instance(scope).ok_or_else(failed)?;
    let inherit = own_inherit(scope, r);
    local_reference::init(scope, obj, v, inherit);
    return Ok(obj.into());
  }
  remote::new_instance(scope, r.clone()).ok_or_else(failed)
}

/// How a guest method call waits for its target (the engine's one flavour enum).
pub use crate::isolate::flavor::Flavor;

/// Adds method `name` to a class prototype.
pub fn method(
  scope: &mut v8::PinScope<'_, '_>,
  proto: v8::Local<v8::ObjectTemplate>,
  name: &str,
  cb: impl v8::MapFnTo<v8::FunctionCallback>,
) -> Option<()> {
  let key = v8::String::new(scope, name)?;
  let f = v8::FunctionTemplate::new(scope, cb);
  let fixed = v8::PropertyAttribute::READ_ONLY | v8::PropertyAttribute::DONT_DELETE;
  proto.set_with_attr(key.into(), f.into(), fixed);
  Some(())
}

/// Adds read-only accessor `name` to a class prototype.
pub fn getter(
  scope: &mut v8::PinScope<'_, '_>,
  proto: v8::Local<v8::ObjectTemplate>,
  name: &str,
  cb: impl v8::MapFnTo<v8::FunctionCallback>,
) -> Option<()> {
  let key = v8::String::new(scope, name)?;
  let f = v8::FunctionTemplate::new(scope, cb);
  proto.set_accessor_property(
    key.into(),
    Some(f),
    None,
    v8::PropertyAttribute::DONT_DELETE,
  );
  Some(())
}

/// Sets the internal fields of a guest handle object: table id and kind.
pub fn mark(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>, id: u32, kind: i32) {
  tag(scope, obj, id, kind);
  // Handle objects are frozen, as on the host (internal fields stay writable).
  let _ = obj.set_integrity_level(scope, v8::IntegrityLevel::Frozen);
}

/// Sets the internal fields that tie `obj` to table entry `id` of `kind`, without freezing it
/// (Script and Module objects stay open, as in isolated-vm).
pub fn tag(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>, id: u32, kind: i32) {
  let field = v8::Integer::new_from_unsigned(scope, id);
  obj.set_internal_field(0, field.into());
  let kind = v8::Integer::new(scope, kind);
  obj.set_internal_field(1, kind.into());
}

/// The class function of `t` in the current context, with the function and its prototype
/// frozen.
pub fn frozen_class<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  t: v8::Local<'s, v8::FunctionTemplate>,
) -> Option<v8::Local<'s, v8::Function>> {
  let f = t.get_function(scope)?;
  let key = v8::String::new(scope, "prototype")?;
  if let Some(p) = f
    .get(scope, key.into())
    .and_then(|p| v8::Local::<v8::Object>::try_from(p).ok())
  {
    p.set_integrity_level(scope, v8::IntegrityLevel::Frozen)?;
  }
  f.set_integrity_level(scope, v8::IntegrityLevel::Frozen)?;
  Some(f)
}

/// A new instance of class template `t` in the current context. The class and its prototype
/// are frozen in that context first: handle objects can arrive in a context that never
/// received the library, and their prototype must be as locked there as everywhere.
pub fn instance<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  t: v8::Local<'s, v8::FunctionTemplate>,
) -> Option<v8::Local<'s, v8::Object>> {
  frozen_class(scope, t)?;
  t.instance_template(scope).new_instance(scope)
}

/// Internal-field marker of guest Reference objects.
pub const KIND_REFERENCE: i32 = 1;
/// Internal-field marker of guest ExternalCopy objects.
pub const KIND_EXTERNAL_COPY: i32 = 2;
/// Internal-field marker of guest Reference objects to values of the same isolate.
pub const KIND_LOCAL_REFERENCE: i32 = 3;
/// Internal-field marker of guest Reference objects to values of another isolate.
pub const KIND_REMOTE_REFERENCE: i32 = 4;
/// Internal-field marker of single-use tokens.
pub const KIND_TOKEN: i32 = 5;
/// Internal-field marker of guest `Callback` objects.
pub const KIND_CALLBACK: i32 = 6;
/// Internal-field marker of the library object inside a guest.
pub const KIND_LIBRARY: i32 = 10;

/// The library object inside a guest: the classes that work there, frozen.
fn library<'s>(scope: &mut v8::PinScope<'s, '_>) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let failed = || Thrown::error("Failed to create the library object");
  let t = v8::ObjectTemplate::new(scope);
  t.set_internal_field_count(2);
  let obj = t.new_instance(scope).ok_or_else(failed)?;
  let reference = reference::class(scope).ok_or_else(failed)?;
  let copy = external_copy::class(scope).ok_or_else(failed)?;
  let cb = callback::class(scope).ok_or_else(failed)?;
  let isolate = nested::isolate::class(scope).ok_or_else(failed)?;
  let context = nested::context::class(scope).ok_or_else(failed)?;
  let script = nested::script::class(scope).ok_or_else(failed)?;
  for (name, f) in [
    ("Reference", reference),
    ("ExternalCopy", copy),
    ("Callback", cb),
    ("Isolate", isolate),
    ("Context", context),
    ("Script", script),
  ] {
    let k = v8::String::new(scope, name).ok_or_else(failed)?;
    obj
      .create_data_property(scope, k.into(), f.into())
      .ok_or_else(failed)?;
  }
  // Marked (and frozen) so that it is recognised when it leaves the isolate again.
  mark(scope, obj, 0, KIND_LIBRARY);
  Ok(obj.into())
}

/// The table id of a guest handle object of `kind`, if `obj` is one.
pub fn object_id(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
  kind: i32,
) -> Option<u32> {
  let (id, k) = id_and_kind(scope, obj)?;
  (k == kind).then_some(id)
}

/// Drops the table entry behind a guest handle object (its `release()`).
pub fn forget(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>) {
  if let Some((id, _)) = id_and_kind(scope, obj) {
    let st = state(scope);
    let removed = st.borrow_mut().remove(id);
    drop(removed);
  }
}

fn id_and_kind(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>) -> Option<(u32, i32)> {
  if obj.internal_field_count() < 2 {
    return None;
  }
  let kind = obj
    .get_internal_field(scope, 1)
    .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())?
    .int32_value(scope)?;
  let id = obj
    .get_internal_field(scope, 0)
    .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())?
    .uint32_value(scope)?;
  Some((id, kind))
}

/// The handle a guest handle object stands for when it leaves the isolate (`None`: not a
/// handle object).
pub fn handle_of(
  scope: &mut v8::PinScope<'_, '_>,
  v: v8::Local<v8::Value>,
) -> Option<Result<Handle, Thrown>> {
  let obj = v8::Local::<v8::Object>::try_from(v).ok()?;
  let (id, kind) = id_and_kind(scope, obj)?;
  let st = state(scope);
  let released = || Thrown::error(msg::REFERENCE_RELEASED);
  Some(match kind {
    KIND_REFERENCE => {
      let t = st.borrow().targets.get(&id).cloned();
      t.map(Handle::HostReference).ok_or_else(released)
    }
    KIND_REMOTE_REFERENCE => {
      let r = st.borrow().remotes.get(&id).cloned();
      r.map(IsolateRef::into_handle).ok_or_else(released)
    }
    KIND_LOCAL_REFERENCE => {
      let l = st.borrow().locals.get(&id).map(|e| (e.0.clone(), e.1));
      let (g, t) = match l {
        Some(x) => x,
        None => return Some(Err(released())),
      };
      let v = v8::Local::new(scope, g);
      crate::isolate::ops::register::register(scope, v, t).map(IsolateRef::into_handle)
    }
    KIND_EXTERNAL_COPY => {
      let d = st.borrow().copies.get(&id).cloned();
      d.map(Handle::ExternalCopy)
        .ok_or_else(|| Thrown::error("Copy has been released"))
    }
    KIND_TOKEN => token::take(scope, id),
    KIND_LIBRARY => Ok(Handle::Library),
    KIND_CALLBACK => callback::own_handle(scope, id),
    nested::KIND_ISOLATE | nested::KIND_CONTEXT | nested::KIND_SCRIPT | nested::KIND_MODULE => {
      nested::handle(scope, id)
    }
    _ => return None,
  })
}
