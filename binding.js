'use strict';
// Loads the native addon. Written by hand (`napi build` runs with `--no-js`) so that loading
// reads no environment variable, starts no process (no `ldd`) and asks for no process report:
// Deno then needs only `--allow-ffi` (README "Supported runtimes"). Only when no binary can be
// loaded does it look further (the C library in use) to throw one Error that says why.
//
// Candidates, in order:
//   1. ./isolated-vm-rs.<platform>.node beside this file: a build from a checkout (`npm run build`);
//   2. the platform package isolated-vm-rs-<platform>, an optionalDependency of isolated-vm-rs
//      that npm installs only on the platform it is built for.

// Platforms that have a published binary (the `napi.targets` of package.json).
const SUPPORTED = ['linux-x64-gnu'];
// The oldest glibc the published binary loads on: the newest GLIBC_ symbol version it needs
// (`objdump -T`); `scripts/release.mjs check` refuses to publish a binary that needs another,
// and __test__/loader.test.mjs checks the built one.
const GLIBC_NEEDED = '2.27';
const SUPPORTED_TEXT = `Supported platforms: linux-x64-gnu (x86-64 Linux with glibc ${GLIBC_NEEDED} or newer).`;

// Which binary this process would need. libc is looked up only on Linux, and only when loading
// failed (`process.report` is the one source that reads no file and spawns nothing).
function platformId(withLibc) {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return base;
  if (!withLibc) return `${base}-gnu`;
  return glibcVersion() === null ? `${base}-musl` : `${base}-gnu`;
}

// The running glibc's version ("2.36"), null when the C library is not glibc, undefined when
// that cannot be told.
function glibcVersion() {
  try {
    const header = process.report && process.report.getReport().header;
    if (header && typeof header.glibcVersionRuntime === 'string') return header.glibcVersionRuntime;
    if (header) return null;
  } catch {}
  return undefined;
}

function older(a, b) {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 < b1 || (a1 === b1 && a2 < b2);
}

function noBinary(platform, detail, cause) {
  const error = new Error(`isolated-vm-rs: ${detail} ${SUPPORTED_TEXT}`, cause ? { cause } : undefined);
  error.code = 'ERR_ISOLATED_VM_RS_NO_BINARY';
  error.platform = platform;
  error.supported = SUPPORTED.slice();
  error.glibcNeeded = GLIBC_NEEDED;
  return error;
}

function isNotFound(error, id) {
  return error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(id);
}

// A Deno permission error ("Requires ffi access to …, run again with the --allow-ffi flag")
// already says what to do; it is passed on as it is.
function isPermissionError(error) {
  return error && (error.name === 'NotCapable' || error.name === 'PermissionDenied');
}

function loadFailed(platform, file, error) {
  const message = String((error && error.message) || error);
  const missing = /GLIBC_(\d+\.\d+(?:\.\d+)?)' not found/.exec(message);
  const have = glibcVersion();
  if (missing || (have && older(have, GLIBC_NEEDED))) {
    const system = have ? `this system has glibc ${have}` : 'this system has an older one';
    const detail = missing ? ` (the dynamic loader reports GLIBC_${missing[1]} missing)` : '';
    return noBinary(platform, `the native binary for ${platform} needs glibc ${GLIBC_NEEDED} or newer; ${system}${detail}.`, error);
  }
  if (have === null) {
    const musl = platform.replace(/-gnu$/, '-musl');
    return noBinary(musl, `there is no native binary for ${musl} (this system's C library is not glibc).`, error);
  }
  return noBinary(platform, `the native binary for ${platform} (${file}) could not be loaded: ${message}.`, error);
}

function load() {
  const platform = platformId(false);
  if (!SUPPORTED.includes(platform)) {
    const id = platformId(true);
    return noBinary(id, `there is no native binary for ${id}.`);
  }
  const local = `./isolated-vm-rs.${platform}.node`;
  try {
    return { binding: require(local) };
  } catch (error) {
    if (isPermissionError(error)) throw error;
    if (!isNotFound(error, local)) return loadFailed(platform, local, error);
  }
  const pkg = `isolated-vm-rs-${platform}`;
  let binding;
  try {
    binding = require(pkg);
  } catch (error) {
    if (isPermissionError(error)) throw error;
    if (!isNotFound(error, pkg)) return loadFailed(platform, `${pkg}/isolated-vm-rs.${platform}.node`, error);
    if (platformId(true) !== platform) return loadFailed(platform, pkg, error);
    const { version } = require('./package.json');
    return noBinary(
      platform,
      `the native binary for ${platform} comes in the package ${pkg}, an optional dependency that is not ` +
        `installed (turned off with --omit=optional, or a lockfile made on another platform?); install it: ` +
        `npm install ${pkg}@${version}.`,
    );
  }
  const { version } = require('./package.json');
  const theirs = require(`${pkg}/package.json`).version;
  if (theirs !== version) {
    return noBinary(platform, `isolated-vm-rs ${version} found ${pkg} ${theirs}; both must have the same version.`);
  }
  return { binding };
}

const result = load();
if (result instanceof Error) throw result;
module.exports = result.binding;
