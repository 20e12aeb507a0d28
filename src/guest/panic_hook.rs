//! Test hook, not part of the API: a guest function whose V8 callback panics, installed on
//! demand by the host's `__panicForTest('guest', context)`. It checks that a panic inside a V8
//! callback becomes a JavaScript Error in the calling guest (through [`super::dispatch`])
//! instead of unwinding into V8 and aborting the process. Calling it is harmless: the guest
//! sees "Internal error in isolated-vm-rs: …" and the isolate keeps working.

use crate::error::msg;
use crate::isolate::Runtime;
use crate::transfer::thrown::Thrown;

/// The global the hook installs.
pub const NAME: &str = "__panicForTest";

/// What the panic says (the guest sees it after "Internal error in isolated-vm-rs: ").
pub const MESSAGE: &str = "__panicForTest: a panic inside a guest V8 callback";

/// Defines global function [`NAME`] in context `context_id` of the locked isolate. Under the
/// isolate's lock.
pub fn install(rt: &mut Runtime, context_id: u32) -> Result<(), Thrown> {
  let ctx = rt
    .tables()
    .contexts
    .get(&context_id)
    .cloned()
    .ok_or_else(|| Thrown::error(msg::CONTEXT_RELEASED))?;
  let failed = || Thrown::error("Failed to install the panic test hook");
  let isolate = &mut *rt.isolate;
  v8::scope!(let hs, isolate);
  let ctx = v8::Local::new(hs, &*ctx);
  let cs = &mut v8::ContextScope::new(hs, ctx);
  let f = v8::Function::new(cs, panics).ok_or_else(failed)?;
  let key = v8::String::new(cs, NAME).ok_or_else(failed)?;
  ctx
    .global(cs)
    .set(cs, key.into(), f.into())
    .ok_or_else(failed)?;
  Ok(())
}

fn panics<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  args: v8::FunctionCallbackArguments<'s>,
  rv: v8::ReturnValue<'s, v8::Value>,
) {
  super::dispatch(scope, args, rv, |_, _| panic!("{MESSAGE}"));
}
