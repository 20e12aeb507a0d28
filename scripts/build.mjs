#!/usr/bin/env node
// Builds the addon with napi-rs: `isolated-vm-rs.linux-x64-gnu.node` in the project root, which
// binding.js (hand-written; `napi build` runs with `--no-js`) loads first.
//
//   node scripts/build.mjs               release build linked against this machine's glibc
//   node scripts/build.mjs --debug       debug build
//   node scripts/build.mjs --if-missing  build only when the addon is absent (`npm test` on a fresh checkout)
//   node scripts/build.mjs --glibc 2.27  the published binary (`npm run build:release`): linked by
//                                        cargo-zigbuild against glibc 2.27's symbol versions, so it
//                                        loads on glibc 2.27 and newer
//
// With `--glibc`, C code (the mimalloc crate) is still compiled by the system's gcc, as in a
// plain build, unless CC_x86_64_unknown_linux_gnu says otherwise: compiled by zig's clang,
// mimalloc initialises in another order (its constructor gets priority 101 under clang) and
// backs its arena with transparent huge pages, which costs about 550 KiB more RSS per idle
// isolate. scripts/release.mjs checks that the result imports nothing from glibc unversioned.
//
// `--glibc` needs `zig` and `cargo-zigbuild`. When they are not on PATH they are installed from
// PyPI (the `ziglang` and `cargo-zigbuild` packages, versions pinned below) into
// .cache/zig-<version>/ with `python3 -m venv` + pip, once.
//
// When RUSTY_V8_ARCHIVE is unset and ../shared/v8 holds the prebuilt V8 archive (offline build
// machines), the `v8` crate is pointed at it; elsewhere the crate downloads its own library.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ZIGLANG = '0.17.1';
const CARGO_ZIGBUILD = '0.24.1';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const addon = path.join(root, `isolated-vm-rs.${process.platform}-${process.arch}-gnu.node`);
const glibcAt = args.indexOf('--glibc');
const glibc = glibcAt >= 0 ? args[glibcAt + 1] : null;
if (glibcAt >= 0 && !/^2\.\d+$/.test(glibc ?? '')) {
  console.error('build: --glibc needs a version, e.g. --glibc 2.27');
  process.exit(2);
}

if (args.includes('--if-missing') && existsSync(addon)) process.exit(0);

const env = { ...process.env };
const archive = path.resolve(root, '..', 'shared', 'v8', 'librusty_v8_release_x86_64-unknown-linux-gnu.a.gz');
if (!env.RUSTY_V8_ARCHIVE && existsSync(archive)) {
  env.RUSTY_V8_ARCHIVE = archive;
  console.error(`build: using the prebuilt V8 archive ${archive}`);
}

function run(cmd, cmdArgs, options = {}) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

const onPath = (cmd, cmdArgs) => spawnSync(cmd, cmdArgs, { env, stdio: 'ignore' }).status === 0;

// zig + cargo-zigbuild on PATH, from PyPI when missing. cargo-zigbuild runs `python3 -m ziglang`
// when there is no `zig`, so the venv's bin directory goes first on PATH.
function zigToolchain() {
  if (onPath('cargo-zigbuild', ['--version']) && (onPath('zig', ['version']) || onPath('python3', ['-m', 'ziglang', 'version']))) {
    return;
  }
  const venv = path.join(root, '.cache', `zig-${ZIGLANG}-zigbuild-${CARGO_ZIGBUILD}`);
  const bin = path.join(venv, 'bin');
  const ready = path.join(venv, '.ready');
  if (!existsSync(ready)) {
    console.error(`build: installing ziglang ${ZIGLANG} and cargo-zigbuild ${CARGO_ZIGBUILD} from PyPI into ${path.relative(root, venv)}/`);
    rmSync(venv, { recursive: true, force: true });
    const pins = [`ziglang==${ZIGLANG}`, `cargo-zigbuild==${CARGO_ZIGBUILD}`];
    if (run('python3', ['-m', 'venv', venv]) !== 0 ||
      run(path.join(bin, 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...pins]) !== 0) {
      rmSync(venv, { recursive: true, force: true });
      throw new Error('build: could not install zig (needs python3 with venv and pip, and PyPI)');
    }
    writeFileSync(ready, `${pins.join('\n')}\n`);
  }
  env.PATH = `${bin}${path.delimiter}${env.PATH}`;
}

const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
const napiArgs = ['build', '--platform', '--no-js', '--dts', 'binding.d.ts'];
if (!args.includes('--debug')) napiArgs.push('--release');
if (glibc) {
  zigToolchain();
  // napi-rs's `--cross-compile` runs `cargo zigbuild`, which reads the glibc version from the
  // target's suffix; the artifact is still named for linux-x64-gnu.
  napiArgs.push('--cross-compile', '--target', `x86_64-unknown-linux-gnu.${glibc}`);
  env.CC_x86_64_unknown_linux_gnu ??= onPath('gcc', ['--version']) ? 'gcc' : 'cc';
}
process.exit(run(process.execPath, [napi, ...napiArgs]));
