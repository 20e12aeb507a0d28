#!/usr/bin/env node
// Builds the addon with napi-rs: isolated-vm-rs.linux-x64-gnu.node in the project root, which
// binding.js (hand-written; `napi build` runs with `--no-js`) loads first. When RUSTY_V8_ARCHIVE is unset and ../shared/v8 holds the
// prebuilt V8 archive (offline build machines), points the `v8` crate at it; elsewhere the crate
// downloads its own library. `--if-missing` builds only when the addon or loader is absent
// (used by `npm test` on a fresh checkout); `--debug` makes a debug build.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const addon = path.join(root, `isolated-vm-rs.${process.platform}-${process.arch}-gnu.node`);

if (args.includes('--if-missing') && existsSync(addon)) {
  process.exit(0);
}

const env = { ...process.env };
const archive = path.resolve(root, '..', 'shared', 'v8', 'librusty_v8_release_x86_64-unknown-linux-gnu.a.gz');
if (!env.RUSTY_V8_ARCHIVE && existsSync(archive)) {
  env.RUSTY_V8_ARCHIVE = archive;
  console.error(`build: using the prebuilt V8 archive ${archive}`);
}

const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
const napiArgs = ['build', '--platform', '--no-js', '--dts', 'binding.d.ts'];
if (!args.includes('--debug')) napiArgs.push('--release');
const r = spawnSync(process.execPath, [napi, ...napiArgs], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
