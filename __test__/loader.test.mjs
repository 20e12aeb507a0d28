// binding.js, the loader of the native addon: where it finds the binary, the one Error it throws
// when no binary fits (platform, supported platforms, glibc needed; never npm bugs or WASI),
// and that loading reads no environment variable and starts no process (Deno then needs no
// --allow-env / --allow-run). Each case copies binding.js and package.json into a temporary
// package folder, lays out (or breaks) the binary there, and requires the loader in a child
// process, faking the platform with a preload script where the case needs another one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { glibcFloor, versionNeeds } from '../scripts/glibc-floor.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE_FILE = 'isolated-vm-rs.linux-x64-gnu.node';
const built = path.join(root, NODE_FILE);
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const GLIBC_NEEDED = /const GLIBC_NEEDED = '([\d.]+)'/.exec(readFileSync(path.join(root, 'binding.js'), 'utf8'))[1];
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

const dirs = [];
test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// A package folder holding the loader, optionally the binary beside it (`local`) and optionally
// the platform package in node_modules (`pkg`: { version, file }).
function makePackage({ local, pkg } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ivm-loader-'));
  dirs.push(dir);
  copyFileSync(path.join(root, 'binding.js'), path.join(dir, 'binding.js'));
  copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  if (local) writeOrLink(local, path.join(dir, NODE_FILE));
  if (pkg) {
    const pdir = path.join(dir, 'node_modules', 'isolated-vm-rs-linux-x64-gnu');
    mkdirSync(pdir, { recursive: true });
    writeFileSync(path.join(pdir, 'package.json'), JSON.stringify({ name: 'isolated-vm-rs-linux-x64-gnu', version: pkg.version, main: NODE_FILE }));
    writeOrLink(pkg.file, path.join(pdir, NODE_FILE));
  }
  return dir;
}

function writeOrLink(source, dest) {
  if (Buffer.isBuffer(source)) writeFileSync(dest, source);
  else symlinkSync(source, dest);
}

// Requires <dir>/binding.js in a child process after `preload` (JS run first) and reports what
// happened as JSON: { ok, exports } or { message, code, platform, supported, glibcNeeded }.
function load(dir, preload = '') {
  const program = `${preload}
    let out;
    try {
      const b = require(${JSON.stringify(path.join(dir, 'binding.js'))});
      out = { ok: true, exports: typeof b.Isolate };
    } catch (e) {
      out = { message: e.message, code: e.code, platform: e.platform, supported: e.supported, glibcNeeded: e.glibcNeeded, extra: e.errors };
    }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function assertOneClearError(out, platform) {
  assert.equal(out.ok, undefined, 'the loader should have thrown');
  assert.equal(out.code, 'ERR_ISOLATED_VM_RS_NO_BINARY');
  assert.equal(out.platform, platform);
  assert.deepEqual(out.supported, ['linux-x64-gnu']);
  assert.equal(out.glibcNeeded, GLIBC_NEEDED);
  assert.match(out.message, new RegExp(`\\b${platform}\\b`));
  assert.match(out.message, new RegExp(`Supported platforms: linux-x64-gnu \\(x86-64 Linux with glibc ${GLIBC_NEEDED.replace('.', '\\.')} or newer\\)`));
  assert.doesNotMatch(out.message, /npm has a bug|wasi|wasm/i);
  assert.equal(out.extra, undefined, 'one Error, not an aggregate');
}

const fakePlatform = (platform, arch) =>
  `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} });
   Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} });`;

test('a platform without a binary (macOS arm64) gets one Error naming it and the supported ones', () => {
  const out = load(makePackage(), fakePlatform('darwin', 'arm64'));
  assertOneClearError(out, 'darwin-arm64');
  assert.match(out.message, /^isolated-vm-rs: there is no native binary for darwin-arm64\./);
});

test('Linux on arm64 and Windows are named as such', () => {
  assertOneClearError(load(makePackage(), fakePlatform('linux', 'arm64')), 'linux-arm64-gnu');
  assertOneClearError(load(makePackage(), fakePlatform('win32', 'x64')), 'win32-x64');
});

test('musl (Alpine) is told apart from glibc when the binary is absent', { skip: !onLinuxX64 }, () => {
  const musl = `process.report.getReport = () => ({ header: { osName: 'Linux' }, sharedObjects: ['/lib/ld-musl-x86_64.so.1'] });`;
  const out = load(makePackage(), musl);
  assertOneClearError(out, 'linux-x64-musl');
  assert.match(out.message, /no native binary for linux-x64-musl \(this system's C library is not glibc\)/);
});

test('linux-x64 without the platform package says which package and version to install', { skip: !onLinuxX64 }, () => {
  const out = load(makePackage());
  assertOneClearError(out, 'linux-x64-gnu');
  assert.match(out.message, /isolated-vm-rs-linux-x64-gnu, an optional dependency that is not installed/);
  assert.match(out.message, /--omit=optional/);
  assert.ok(out.message.includes(`npm install isolated-vm-rs-linux-x64-gnu@${version}`), out.message);
});

// The binary itself, with its newest GLIBC_ version need renamed to one no glibc has: the real
// dynamic loader refuses it as it refuses the binary on a glibc older than GLIBC_NEEDED.
function withImpossibleGlibc() {
  const bytes = readFileSync(built);
  const names = [...new Set(versionNeeds(built).map((n) => n.name).filter((n) => /^GLIBC_2\.\d\d$/.test(n)))];
  assert.ok(names.length > 0, 'the binary needs some GLIBC_2.xx version');
  for (const name of names) {
    const from = Buffer.from(`\0${name}\0`);
    const to = Buffer.from(`\0GLIBC_9${name.slice(7)}\0`);
    for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1)) to.copy(bytes, at);
  }
  return bytes;
}

test('a glibc older than the binary needs: one Error with the glibc needed and the one present', { skip: !onLinuxX64 }, () => {
  const out = load(makePackage({ local: withImpossibleGlibc() }));
  assertOneClearError(out, 'linux-x64-gnu');
  const have = process.report.getReport().header.glibcVersionRuntime;
  assert.match(out.message, new RegExp(`needs glibc ${GLIBC_NEEDED.replace('.', '\\.')} or newer; this system has glibc ${have.replace('.', '\\.')}`));
  assert.match(out.message, /the dynamic loader reports GLIBC_9\.\d+ missing/);
});

test('the same through the platform package, as installed from the registry', { skip: !onLinuxX64 }, () => {
  const out = load(makePackage({ pkg: { version, file: withImpossibleGlibc() } }));
  assertOneClearError(out, 'linux-x64-gnu');
  assert.match(out.message, /needs glibc/);
});

test('a damaged binary is reported with the loader\'s own reason', { skip: !onLinuxX64 }, () => {
  const out = load(makePackage({ local: Buffer.from('not an ELF file') }));
  assertOneClearError(out, 'linux-x64-gnu');
  assert.match(out.message, /could not be loaded: .*(invalid ELF header|file too short)/);
});

test('the platform package is loaded when no local build is present', { skip: !onLinuxX64 }, () => {
  assert.deepEqual(load(makePackage({ pkg: { version, file: built } })), { ok: true, exports: 'function' });
});

test('a platform package of another version is refused with both versions named', { skip: !onLinuxX64 }, () => {
  const out = load(makePackage({ pkg: { version: '0.0.1-other', file: built } }));
  assertOneClearError(out, 'linux-x64-gnu');
  assert.ok(out.message.includes(`isolated-vm-rs ${version} found isolated-vm-rs-linux-x64-gnu 0.0.1-other`), out.message);
});

test('loading reads no environment variable, starts no process (no ldd) and asks for no process report', { skip: !onLinuxX64 }, () => {
  const spy = `
    const seen = [];
    const env = process.env;
    process.env = new Proxy(env, {
      get(t, k) { if (typeof k === 'string') seen.push('env:' + k); return Reflect.get(t, k); },
      has(t, k) { seen.push('env:' + String(k)); return Reflect.has(t, k); },
    });
    const cp = require('node:child_process');
    for (const f of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
      const orig = cp[f];
      cp[f] = function (...a) { seen.push('run:' + a[0]); return orig.apply(this, a); };
    }
    const fs = require('node:fs');
    for (const f of ['readFileSync', 'openSync', 'existsSync', 'statSync', 'accessSync']) {
      const orig = fs[f];
      fs[f] = function (...a) { seen.push('fs:' + a[0]); return orig.apply(this, a); };
    }
    const report = process.report.getReport;
    process.report.getReport = function () { seen.push('report'); return report.apply(this, arguments); };
    process.on('exit', () => process.stderr.write('SEEN' + JSON.stringify(seen)));`;
  const dir = makePackage({ local: built });
  const r = spawnSync(process.execPath, ['-e', `${spy}\nrequire(${JSON.stringify(path.join(dir, 'binding.js'))});`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('SEEN') + 4));
  assert.deepEqual(seen.filter((s) => s.startsWith('env:') || s.startsWith('run:') || s === 'report' || s.includes('ldd')), []);
});

test('binding.js states the glibc the built binary needs', { skip: !onLinuxX64 }, (t) => {
  const floor = glibcFloor(built);
  if (floor !== GLIBC_NEEDED) {
    // `npm run build` links against this machine's glibc; the published binary comes from
    // `npm run build:release` (CI builds that one), and `npm pack` refuses any other.
    t.skip(`this build needs glibc ${floor}: a build linked against this machine's glibc, not by npm run build:release`);
    return;
  }
  assert.equal(floor, GLIBC_NEEDED);
});
