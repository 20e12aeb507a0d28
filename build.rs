//! Build script: lets napi-build emit the linker flags a Node-API addon needs, and compiles the
//! small C file that owns the landing points of contained V8 fatal errors
//! (`src/isolate/escape.c`, see `src/isolate/catastrophe.rs`).
fn main() {
  napi_build::setup();
  println!("cargo:rerun-if-changed=src/isolate/escape.c");
  cc::Build::new()
    .file("src/isolate/escape.c")
    .flag_if_supported("-fno-omit-frame-pointer")
    .compile("ivm_escape");
}
