//! Creating and releasing contexts.

use crate::isolate::ops::export::{new_reference, Out};
use crate::isolate::Runtime;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// A new context: its table id and the id of the Reference to its global object.
pub fn create(rt: &mut Runtime) -> (u32, u32) {
  let spare = rt.take_spare_context();
  let core = rt.core.clone();
  let state = rt.state.clone();
  let isolate = &mut *rt.isolate;
  v8::scope!(let hs, isolate);
  // The context made in advance (see `Runtime::default_context`) becomes the first one asked
  // for: no guest code has run in it.
  let made_here = spare.is_none();
  let ctx = match spare {
    Some(g) => v8::Local::new(hs, g),
    None => {
      let ctx = v8::Context::new(hs, Default::default());
      crate::isolate::codegen::restrict(ctx);
      ctx
    }
  };
  let cs = &mut v8::ContextScope::new(hs, ctx);
  if made_here {
    // Before any guest code runs in it.
    crate::isolate::collect::install(cs);
  }
  let id = state.new_id();
  let global = v8::Global::new(cs, ctx);
  core
    .tables
    .borrow_mut()
    .contexts
    .insert(id, Rc::new(global));
  state.handles.fetch_add(1, Ordering::Relaxed);
  let global = ctx.global(cs);
  let global_id = match new_reference(cs, &core.tables, &state, global.into()) {
    Out::Reference { id, .. } => id,
    _ => 0,
  };
  (id, global_id)
}

/// Drops a table entry of any kind (release of a handle).
pub fn release(rt: &mut Runtime, id: u32) {
  let removed = {
    let mut t = rt.tables();
    let a = t.contexts.remove(&id).map(|_| ());
    if a.is_some() {
      // Scripts bound to the released context let go of it.
      for entry in t.scripts.values_mut() {
        if entry.bound.as_ref().is_some_and(|(ctx, _)| *ctx == id) {
          entry.bound = None;
        }
      }
    }
    let b = t.scripts.remove(&id).map(|_| ());
    let c = t.references.remove(&id).map(|_| ());
    let d = t.modules.remove(&id).map(|_| ());
    a.or(b).or(c).or(d).is_some()
  };
  if removed {
    rt.state.handles.fetch_sub(1, Ordering::Relaxed);
  }
}
