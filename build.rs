//! Build script: lets napi-build emit the linker flags a Node-API addon needs, and compiles the
//! small C file that owns the landing points of contained V8 fatal errors
//! (`src/isolate/escape.c`, see `src/isolate/catastrophe.rs`), and routes V8's `mmap64` through
//! `src/isolate/pages.rs`.
fn main() {
  napi_build::setup();
  // V8's page allocator maps through `src/isolate/pages.rs`, which holds fresh heap chunks to
  // the isolate's memory limit (Linux with glibc; every target that links, tests included).
  let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
  let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
  if os == "linux" && env == "gnu" {
    println!("cargo:rustc-link-arg=-Wl,--wrap=mmap64");
  }
  println!("cargo:rerun-if-changed=src/isolate/escape.c");
  cc::Build::new()
    .file("src/isolate/escape.c")
    .flag_if_supported("-fno-omit-frame-pointer")
    .compile("ivm_escape");
}
