//! Test hook, not part of the API: `__panicForTest(where, context?)` panics on purpose, to check
//! that a panic in the library becomes a JavaScript Error and leaves the process working. Only
//! the test suite calls it (through `binding.js`; `index.js` does not export it).

use crate::api::context::Context;
use crate::bridge::{self, js, Flavor};
use napi::Env;

/// What the panic in the napi function says (napi-rs reports a panic's message as is).
pub const NAPI_MESSAGE: &str = "__panicForTest: a panic inside a napi function";

/// Test hook. `where`:
/// * `"napi"`: panics right here, in the exported function (napi-rs's `catch_unwind` turns it
///   into an Error thrown to the caller);
/// * `"guest"`: installs a global function `__panicForTest` in `context` whose V8 callback
///   panics when the guest calls it (the guest gets an Error; see `guest::panic_hook`).
///
/// Anything else is a TypeError. Node's thread.
#[napi_derive::napi(js_name = "__panicForTest", catch_unwind)]
pub fn panic_for_test(env: Env, place: String, context: Option<&Context>) -> napi::Result<()> {
  let raw = env.raw();
  match (place.as_str(), context) {
    ("napi", _) => panic!("{NAPI_MESSAGE}"),
    ("guest", Some(context)) => {
      let id = context.id().map_err(|t| js::throw(raw, t))?;
      bridge::run(
        &env,
        &context.host,
        Flavor::Sync,
        Box::new(move |rt| crate::guest::panic_hook::install(rt, id)),
        |env, ()| Ok(js::undefined(env)?),
      )?;
      Ok(())
    }
    _ => Err(js::type_error(
      raw,
      "__panicForTest(where, context): `where` is \"napi\", or \"guest\" with a Context",
    )),
  }
}
