//! Noticing that the guest collected one of our handle objects, without `v8::Weak` (which the
//! `v8` crate refuses on isolates shared between threads).
//!
//! Every context gets a `FinalizationRegistry` when it is created, before any guest code runs
//! (so a guest cannot swap the class or its `register`), kept with its `register` on the
//! context's global object under a private symbol. [`watch`] registers an object with its table
//! id; when the guest collects the object, V8 posts a cleanup task to the isolate's queue (see
//! `crate::platform::tasks`) and the registry's callback hands the id to the [`OnCollect`] hook
//! that the owner of the tables installed in an isolate slot.

/// What runs when a watched object was collected: drops the table entry `id`. Installed in an
/// isolate slot by whoever keeps the tables (the guest face).
#[derive(Clone, Copy)]
pub struct OnCollect(pub fn(&mut v8::Isolate, u32));

const KEY: &str = "isolated-vm-rs#collect";

fn key<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Private>> {
  let name = v8::String::new(scope, KEY)?;
  Some(v8::Private::for_api(scope, Some(name)))
}

/// Gives the current context its registry (call it right after creating a context). Isolate
/// thread, inside a context scope.
pub fn install(scope: &mut v8::PinScope<'_, '_>) -> Option<()> {
  let ctx = scope.get_current_context();
  let global = ctx.global(scope);
  let k = key(scope)?;
  let class_name = v8::String::new(scope, "FinalizationRegistry")?;
  let class = v8::Local::<v8::Function>::try_from(global.get(scope, class_name.into())?).ok()?;
  let cleanup = v8::Function::new(scope, collected)?;
  let registry = class.new_instance(scope, &[cleanup.into()])?;
  let register_name = v8::String::new(scope, "register")?;
  let register = registry.get(scope, register_name.into())?;
  v8::Local::<v8::Function>::try_from(register).ok()?;
  let pair = v8::Array::new_with_elements(scope, &[registry.into(), register]);
  global.set_private(scope, k, pair.into())?;
  Some(())
}

/// Calls `on_collect` with `id` once the guest has collected `obj`. `obj` must not be reachable
/// from anything the tables keep alive. Isolate thread, inside a context scope.
pub fn watch(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>, id: u32) {
  v8::tc_scope!(let tc, scope);
  let _ = watch_in(tc, obj, id);
  // A failure (termination under way) only means the entry lives until disposal.
}

fn watch_in(scope: &mut v8::PinScope<'_, '_>, obj: v8::Local<v8::Object>, id: u32) -> Option<()> {
  let ctx = scope.get_current_context();
  let global = ctx.global(scope);
  let k = key(scope)?;
  let mut pair = global.get_private(scope, k)?;
  if !pair.is_array() {
    // A context created elsewhere (none today): give it a registry now.
    install(scope)?;
    pair = global.get_private(scope, k)?;
  }
  let pair = v8::Local::<v8::Array>::try_from(pair).ok()?;
  let registry = pair.get_index(scope, 0)?;
  let register = v8::Local::<v8::Function>::try_from(pair.get_index(scope, 1)?).ok()?;
  let id = v8::Integer::new_from_unsigned(scope, id);
  register.call(scope, registry, &[obj.into(), id.into()])?;
  Some(())
}

fn collected<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  _rv: v8::ReturnValue<'s, v8::Value>,
) {
  crate::unwind::contain((), || {
    let Some(id) = args.get(0).uint32_value(scope) else {
      return;
    };
    let Some(OnCollect(hook)) = scope.get_slot::<OnCollect>().copied() else {
      return;
    };
    hook(scope, id);
  });
}
