//! The size limit on code generated from strings (SPEC §1.6): `eval` and `new Function` inside
//! a guest may compile a source of at most `memoryLimit` bytes / 8 characters; a longer one is
//! refused with V8's EvalError "Code generation from strings disallowed for this context", as
//! in isolated-vm (which guards the parser's memory this way).
//!
//! Every guest context disallows code generation from strings ([`restrict`]), so V8 asks
//! [`check`] about each source; it allows sources within the limit unchanged.

use crate::transfer::memory::MemoryState;
use std::sync::Arc;

/// Installs the check on a new isolate. Isolate thread, before any context exists.
pub fn install(isolate: &mut v8::Isolate) {
  isolate.set_modify_code_generation_from_strings_callback(check);
  // Without a callback of its own, V8 allows WebAssembly compilation only where code
  // generation from strings is allowed, which `restrict` turns off.
  isolate.set_allow_wasm_code_generation_callback(allow_wasm);
}

unsafe extern "C" fn allow_wasm(_: v8::Local<v8::Context>, _: v8::Local<v8::String>) -> bool {
  true
}

/// Makes V8 consult the check for every `eval` / `new Function` in `context`. Call it right
/// after creating a context, before guest code runs in it.
pub fn restrict(context: v8::Local<v8::Context>) {
  context.set_allow_generation_from_strings(false);
}

fn check<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  source: v8::Local<'s, v8::Value>,
  _is_code_like: bool,
) -> v8::ModifyCodeGenerationFromStringsResult<'s> {
  let refused = v8::ModifyCodeGenerationFromStringsResult {
    codegen_allowed: false,
    modified_source: None,
  };
  crate::unwind::contain(refused, || decide(scope, source))
}

fn decide<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  source: v8::Local<'s, v8::Value>,
) -> v8::ModifyCodeGenerationFromStringsResult<'s> {
  let Ok(code) = v8::Local::<v8::String>::try_from(source) else {
    // Not a string: V8 hands the value back unchanged, as `eval(5)` does.
    return v8::ModifyCodeGenerationFromStringsResult {
      codegen_allowed: true,
      modified_source: None,
    };
  };
  let limit = scope
    .get_slot::<Arc<MemoryState>>()
    .map(|m| m.limit / 8)
    .unwrap_or(usize::MAX);
  let allowed = code.length() <= limit;
  v8::ModifyCodeGenerationFromStringsResult {
    codegen_allowed: allowed,
    modified_source: allowed.then_some(code),
  }
}
