//! isolated-vm's classes inside guest isolates (V8 FunctionTemplates), functions arriving from
//! the host, and the materialisation of handles in a guest. Isolate thread only.

pub mod callback;
pub mod external_copy;
pub mod local_reference;
pub mod pending;
pub mod promise_export;
pub mod reference;

use crate::bridge::host_ref::{CallbackHandle, HostRef};
use crate::error::Thrown;
use crate::transfer::v8_in;
use crate::transfer::value::Handle;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Per-isolate tables of the guest-side objects (kept in an isolate slot).
#[derive(Default)]
pub struct GuestState {
  /// The Reference class.
  pub reference_template: Option<v8::Global<v8::FunctionTemplate>>,
  /// Targets of guest Reference objects, by the id in their internal field; the weak handle
  /// removes the entry when the object is garbage-collected.
  pub targets: HashMap<u32, (Arc<HostRef>, v8::Weak<v8::Object>)>,
  /// Values of this isolate behind `new ivm.Reference(value)` objects: value, `typeof`, weak
  /// handle to the object.
  pub locals: HashMap<u32, (v8::Global<v8::Value>, &'static str, v8::Weak<v8::Object>)>,
  /// The ExternalCopy class.
  pub copy_template: Option<v8::Global<v8::FunctionTemplate>>,
  /// Data behind guest ExternalCopy objects, by id (weak like `targets`).
  pub copies: HashMap<
    u32,
    (
      Arc<crate::transfer::external::ExternalData>,
      v8::Weak<v8::Object>,
    ),
  >,
  /// Host functions behind guest callback functions, by id (weak like `targets`).
  pub callbacks: HashMap<u32, (Arc<CallbackHandle>, v8::Weak<v8::Function>)>,
  /// Guest promises exported with `promise: true`, waiting to settle their slot.
  pub settles: HashMap<
    u32,
    (
      crate::transfer::settle::SettleGuard,
      crate::transfer::options::TransferOptions,
      promise_export::Convert,
    ),
  >,
  /// Promises waiting for the host: resolver and the context to settle it in.
  pub pending: HashMap<u32, (v8::Global<v8::PromiseResolver>, v8::Global<v8::Context>)>,
  next: u32,
}

impl GuestState {
  /// A fresh id for any of the tables.
  pub fn next_id(&mut self) -> u32 {
    self.next = self.next.wrapping_add(1).max(1);
    self.next
  }
}

/// Shared handle to the isolate's guest state.
pub type State = Rc<RefCell<GuestState>>;

/// The isolate's guest state (created on first use).
pub fn state(isolate: &mut v8::Isolate) -> State {
  if let Some(s) = isolate.get_slot::<State>() {
    return s.clone();
  }
  let s: State = Rc::new(RefCell::new(GuestState::default()));
  isolate.set_slot(s.clone());
  s
}

/// A finalizer that drops table entry `id` when its guest object is collected. (If the state
/// happens to be borrowed during that GC the entry stays until the isolate is disposed.)
pub fn release_on_gc(id: u32) -> Box<dyn FnOnce(&mut v8::Isolate)> {
  Box::new(move |isolate: &mut v8::Isolate| {
    let Some(st) = isolate.get_slot::<State>().cloned() else {
      return;
    };
    let removed = match st.try_borrow_mut() {
      Ok(mut s) => (
        s.targets.remove(&id).map(|e| e.1),
        s.callbacks.remove(&id).map(|e| e.1),
        s.copies.remove(&id).map(|e| e.1),
        s.locals.remove(&id).map(|e| e.2),
      ),
      Err(_) => (None, None, None, None),
    };
    // The weak handles drop here, outside the borrow.
    drop(removed);
  })
}

/// Live entries of the guest tables (tests use this to check for leaks).
pub fn live_entries(isolate: &mut v8::Isolate) -> usize {
  let st = state(isolate);
  let s = st.borrow();
  s.targets.len() + s.callbacks.len() + s.pending.len() + s.copies.len() + s.locals.len()
}

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
  let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(scope, &args)));
  match outcome {
    Ok(Ok(Some(v))) => rv.set(v),
    Ok(Ok(None)) => {}
    Ok(Err(e)) => throw(scope, e),
    Err(_) => throw(scope, Thrown::error("Internal error in isolated-vm-rs")),
  }
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
  if let Some(host_ref) = h.get::<Arc<HostRef>>() {
    return reference::new_instance(scope, host_ref.clone()).ok_or_else(failed);
  }
  if let Some(cb) = h.get::<Arc<CallbackHandle>>() {
    return callback::new_function(scope, cb.clone()).ok_or_else(failed);
  }
  if let Some(data) = h.get::<Arc<crate::transfer::external::ExternalData>>() {
    return external_copy::new_instance(scope, data.clone()).ok_or_else(failed);
  }
  if let Some(d) = h.get::<DerefInto>() {
    return deref_into(scope, d);
  }
  if h.get::<Library>().is_some() {
    return library(scope);
  }
  Err(Thrown::type_error(crate::error::msg::NON_TRANSFERABLE))
}

/// A `derefInto()` token's content: the value with table id `id` in the isolate whose shared
/// state is at address `isolate`; `keep` holds the table entry alive until then.
#[derive(Debug)]
pub struct DerefInto {
  /// Address of the owning isolate's shared state (identity only).
  pub isolate: usize,
  /// Reference table id.
  pub id: u32,
  /// Keeps the entry alive.
  pub keep: Arc<dyn std::any::Any + Send + Sync>,
}

fn deref_into<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  d: &DerefInto,
) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let own = scope
    .get_slot::<Arc<crate::isolate::thread::SharedState>>()
    .map(|s| Arc::as_ptr(s) as usize);
  if own != Some(d.isolate) {
    return Err(Thrown::type_error(
      "Cannot dereference this into target isolate",
    ));
  }
  let core = scope
    .get_slot::<Rc<crate::isolate::runtime::Core>>()
    .cloned()
    .ok_or_else(|| Thrown::error(crate::error::msg::DISPOSED))?;
  let g = core
    .tables
    .borrow()
    .references
    .get(&d.id)
    .map(|e| e.value.clone());
  let g = g.ok_or_else(|| Thrown::error(crate::error::msg::REFERENCE_RELEASED))?;
  Ok(v8::Local::new(scope, g))
}

/// Internal-field marker of guest Reference objects.
pub const KIND_REFERENCE: i32 = 1;
/// Internal-field marker of guest ExternalCopy objects.
pub const KIND_EXTERNAL_COPY: i32 = 2;
/// Internal-field marker of guest Reference objects to values of the same isolate.
pub const KIND_LOCAL_REFERENCE: i32 = 3;

/// The library object (`ivm`) as it travels into a guest.
#[derive(Debug)]
pub struct Library;

/// The library object inside a guest: the classes that work there, frozen.
fn library<'s>(scope: &mut v8::PinScope<'s, '_>) -> Result<v8::Local<'s, v8::Value>, Thrown> {
  let failed = || Thrown::error("Failed to create the library object");
  let obj = v8::Object::new(scope);
  let reference = reference::class(scope).ok_or_else(failed)?;
  let copy = external_copy::class(scope).ok_or_else(failed)?;
  for (name, f) in [("Reference", reference), ("ExternalCopy", copy)] {
    let k = v8::String::new(scope, name).ok_or_else(failed)?;
    obj
      .create_data_property(scope, k.into(), f.into())
      .ok_or_else(failed)?;
  }
  obj
    .set_integrity_level(scope, v8::IntegrityLevel::Frozen)
    .ok_or_else(failed)?;
  Ok(obj.into())
}

/// The table id of a guest handle object of `kind`, if `obj` is one.
pub fn object_id(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
  kind: i32,
) -> Option<u32> {
  if obj.internal_field_count() < 2 {
    return None;
  }
  let k = obj
    .get_internal_field(scope, 1)
    .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())?
    .int32_value(scope)?;
  if k != kind {
    return None;
  }
  obj
    .get_internal_field(scope, 0)
    .and_then(|d| v8::Local::<v8::Value>::try_from(d).ok())?
    .uint32_value(scope)
}

/// Drops the table entry behind a guest handle object (its `release()`).
pub fn forget(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>, kind: i32) {
  if let Some(id) = object_id(scope, obj, kind) {
    let st = state(scope);
    let removed = {
      let mut s = st.borrow_mut();
      (
        s.targets.remove(&id),
        s.copies.remove(&id),
        s.locals.remove(&id),
      )
    };
    drop(removed);
  }
}

/// The handle a guest handle object stands for when it leaves the isolate.
pub fn handle_of(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> Option<Handle> {
  let obj = v8::Local::<v8::Object>::try_from(v).ok()?;
  if obj.internal_field_count() < 2 {
    return None;
  }
  if let Some(id) = object_id(scope, obj, KIND_REFERENCE) {
    let t = state(scope)
      .borrow()
      .targets
      .get(&id)
      .map(|e| e.0.clone())?;
    return Some(Handle::new(t));
  }
  if let Some(id) = object_id(scope, obj, KIND_EXTERNAL_COPY) {
    let d = state(scope).borrow().copies.get(&id).map(|e| e.0.clone())?;
    return Some(Handle::new(d));
  }
  None
}
