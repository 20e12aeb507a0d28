#[napi_derive::napi]
pub fn hello() -> String {
  let _ = v8::V8::get_version();
  "hi".into()
}
