//! `Isolate`, `Context`, `Script` and `Module` inside a guest: nested isolates (SPEC §1.6). The objects
//! hold thread-safe handles; their methods run on the nested isolate's thread through
//! [`super::remote::run`], so SPEC §2.1 rule 4 applies to the synchronous ones.

pub mod context;
pub mod isolate;
pub mod module;
pub mod on_catastrophe;
pub mod script;

use super::state;
use crate::error::msg;
use crate::isolate::handle::Handle;
use crate::isolate::remote::{IsolateContext, IsolateModule, IsolateScript};
use crate::isolate::IsolateHost;
use crate::transfer::thrown::Thrown;
use std::sync::Arc;

/// Internal-field marker of guest Isolate objects.
pub const KIND_ISOLATE: i32 = 7;
/// Internal-field marker of guest Context objects.
pub const KIND_CONTEXT: i32 = 8;
/// Internal-field marker of guest Script objects.
pub const KIND_SCRIPT: i32 = 9;
/// Internal-field marker of guest Module objects.
pub const KIND_MODULE: i32 = 11;

/// What a guest Isolate, Context or Script object holds.
#[derive(Clone)]
pub enum Nested {
  /// An isolate.
  Isolate(Arc<IsolateHost>),
  /// A context of some isolate.
  Context(IsolateContext),
  /// A compiled script of some isolate.
  Script(IsolateScript),
  /// A compiled module of some isolate.
  Module(IsolateModule),
}

/// The cached template of class `name`, built by `build` the first time.
pub fn template<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  name: &'static str,
  fields: usize,
  build: impl FnOnce(&mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::FunctionTemplate>>,
) -> Option<v8::Local<'s, v8::FunctionTemplate>> {
  let st = state(scope);
  if let Some(t) = st.borrow().templates.get(name) {
    return Some(v8::Local::new(scope, t));
  }
  let t = build(scope)?;
  let class = v8::String::new(scope, name)?;
  t.set_class_name(class);
  // Like isolated-vm's: the prototype's own prototype cannot be set.
  t.prototype_template(scope).set_immutable_proto();
  t.instance_template(scope).set_internal_field_count(fields);
  st.borrow_mut()
    .templates
    .insert(name, v8::Global::new(scope, t));
  Some(t)
}

/// Sets the compile's cache properties a fresh handle carries on its first object.
pub fn set_fresh<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  obj: v8::Local<'s, v8::Object>,
  fresh: &Option<Arc<crate::isolate::remote::Fresh>>,
) -> Option<()> {
  for (name, value) in crate::isolate::remote::Fresh::take(fresh) {
    let key = v8::String::new(scope, name)?;
    let v = crate::transfer::v8_in::value(scope, &value).ok()?;
    obj.create_data_property(scope, key.into(), v)?;
  }
  Some(())
}

/// Ties `obj` to `item` (table entry, weak release, internal fields).
pub fn init(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>, item: Nested) {
  let kind = match item {
    Nested::Isolate(_) => KIND_ISOLATE,
    Nested::Context(_) => KIND_CONTEXT,
    Nested::Script(_) => KIND_SCRIPT,
    Nested::Module(_) => KIND_MODULE,
  };
  let st = state(scope);
  let id = st.borrow_mut().next_id();
  crate::isolate::collect::watch(scope, obj, id);
  st.borrow_mut().nested.insert(id, item);
  if kind == KIND_SCRIPT || kind == KIND_MODULE {
    // Not frozen, as in isolated-vm (its Script and Module objects are extensible).
    super::tag(scope, obj, id, kind);
  } else {
    super::mark(scope, obj, id, kind);
  }
}

/// What `obj` holds if it is a guest object of `kind`: `None` for other objects, `Err` once
/// released.
pub fn get(
  scope: &mut v8::PinScope<'_, '_>,
  obj: v8::Local<v8::Object>,
  kind: i32,
) -> Option<Result<Nested, Thrown>> {
  let id = super::object_id(scope, obj, kind)?;
  let found = state(scope).borrow().nested.get(&id).cloned();
  Some(found.ok_or_else(|| {
    Thrown::error(match kind {
      KIND_CONTEXT => msg::CONTEXT_RELEASED,
      KIND_SCRIPT => msg::SCRIPT_RELEASED,
      KIND_MODULE => msg::MODULE_RELEASED,
      _ => msg::DISPOSED,
    })
  }))
}

/// What `this` holds, for a method of class `kind` ("Illegal invocation" for other receivers).
pub fn this(
  scope: &mut v8::PinScope<'_, '_>,
  this: v8::Local<v8::Object>,
  kind: i32,
) -> Result<Nested, Thrown> {
  get(scope, this, kind).unwrap_or_else(|| Err(Thrown::type_error("Illegal invocation")))
}

/// The transfer handle of guest object `id` (an Isolate, Context or Script leaving).
pub fn handle(scope: &mut v8::PinScope<'_, '_>, id: u32) -> Result<Handle, Thrown> {
  let found = state(scope).borrow().nested.get(&id).cloned();
  match found {
    Some(Nested::Isolate(h)) => Ok(Handle::Isolate(h)),
    Some(Nested::Context(c)) => Ok(Handle::Context(c)),
    Some(Nested::Script(s)) => Ok(Handle::Script(s)),
    Some(Nested::Module(m)) => Ok(Handle::Module(m)),
    None => Err(Thrown::error(msg::REFERENCE_RELEASED)),
  }
}

/// A private constructor's body.
pub fn private(name: &str) -> Thrown {
  Thrown::type_error(msg::private_ctor(name))
}
