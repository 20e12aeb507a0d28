// Packaging: the release as a user meets it. A copy of the repository is released the way
// README "Releasing" says (`npm run artifacts`, then `npm publish`, whose prepublishOnly runs
// the release check and `napi prepublish`, which publishes the platform package first and adds
// it to package.json's optionalDependencies for the publish) to a local
// registry (verdaccio, on 127.0.0.1, no uplinks). A fresh project with no Rust toolchain on PATH
// then installs `isolated-vm-rs` and `isolated-vm@npm:isolated-vm-rs` from it and runs the
// README quick start, an ESM program with named imports, a TypeScript program through
// `tsc --strict` (nodenext, emitted and run; bundler resolution) and existing isolated-vm code
// through the alias; and Deno with the least permissions (--allow-ffi) and Bun when
// scripts/test-runtimes.mjs has installed them.
//
// Needs the published binary built first: `npm run build:release` (CI does). Run with
// `npm run test:package` (about half a minute; the first run installs verdaccio into
// __test__/packaging/registry/node_modules, about 20 s).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const registryDir = path.join(here, 'registry');
const NODE_FILE = 'isolated-vm-rs.linux-x64-gnu.node';
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const QUICK_START = ['Execution Failed: Script execution timed out.', 'Execution Failed: process is not defined', 'Result: 30'];

let work; // temporary folder: repo copy, registry storage, npm cache, the app
let registry; // { url, child }
let env; // environment for npm and the programs: the local registry, no cargo on PATH
let app;

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 300_000, ...options });
  if (r.error) throw r.error;
  if (r.status !== 0 && !options.allowFailure) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

const lines = (s) => s.split('\n').map((l) => l.trim()).filter(Boolean);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRegistry() {
  if (!existsSync(path.join(registryDir, 'node_modules', 'verdaccio', 'package.json'))) {
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: registryDir, stdio: 'inherit' });
    assert.equal(r.status, 0, 'npm ci in __test__/packaging/registry failed');
  }
  const dir = path.join(work, 'registry');
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, 'config.yaml'),
    [
      `storage: ${path.join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${path.join(dir, 'htpasswd')}`,
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      'web:',
      '  enable: false',
      'max_body_size: 200mb',
      'log: { type: stdout, format: json, level: warn }',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const child = spawn(
    process.execPath,
    [path.join(registryDir, 'node_modules', 'verdaccio', 'bin', 'verdaccio'), '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}-/ping`)).ok) break;
    } catch {}
    if (i === 150 || child.exitCode !== null) throw new Error(`verdaccio did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // A user for `npm publish` (verdaccio's htpasswd plugin registers on first login).
  const res = await fetch(`${url}-/user/org.couchdb.user:release`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'release', password: 'release-password' }),
  });
  const { token } = await res.json();
  assert.ok(token, `no token from verdaccio (${res.status})`);
  return { url, port, token, child };
}

// PATH without any folder holding cargo or rustc: the install must not need a Rust toolchain.
function pathWithoutRust() {
  return process.env.PATH.split(path.delimiter)
    .filter((d) => d && !['cargo', 'rustc', 'rustup'].some((exe) => existsSync(path.join(d, exe))))
    .join(path.delimiter);
}

// The repository as a fresh clone has it (tracked and new, not ignored, files), plus the built binary.
function copyRepository(dest) {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, 'git ls-files failed');
  for (const file of r.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(path.join(root, file))) continue; // deleted, not yet committed
    mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    cpSync(path.join(root, file), path.join(dest, file));
  }
  cpSync(path.join(root, NODE_FILE), path.join(dest, NODE_FILE));
  symlinkSync(path.join(root, 'node_modules'), path.join(dest, 'node_modules'));
}

// The README's quick-start program, as printed there.
function quickStart() {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'README.md has a ```js block under "## Quick start"');
  return m[1];
}

function cachedRuntime(prefix, rel) {
  const dir = path.join(root, '.cache', 'runtimes');
  if (!existsSync(dir)) return null;
  const found = readdirSync(dir).find((d) => d.startsWith(prefix) && existsSync(path.join(dir, d, '.ready.json')));
  return found && existsSync(path.join(dir, found, rel)) ? path.join(dir, found, rel) : null;
}

before(async () => {
  assert.ok(
    existsSync(path.join(root, NODE_FILE)),
    `${NODE_FILE} is missing: build the published binary first (npm run build:release)`,
  );
  work = mkdtempSync(path.join(tmpdir(), 'ivm-packaging-'));
  registry = await startRegistry();
  const npmrc = path.join(work, 'npmrc');
  writeFileSync(npmrc, `registry=${registry.url}\n//127.0.0.1:${registry.port}/:_authToken=${registry.token}\n`);
  env = {
    ...process.env,
    PATH: pathWithoutRust(),
    npm_config_userconfig: npmrc,
    npm_config_registry: registry.url,
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  for (const key of Object.keys(env)) {
    // Settings npm passed to this process (npm run …) would override ours in the children.
    if (/^npm_(config|package|lifecycle)_/.test(key) && !(key in { npm_config_userconfig: 1, npm_config_registry: 1, npm_config_cache: 1, npm_config_audit: 1, npm_config_fund: 1, npm_config_update_notifier: 1 })) {
      delete env[key];
    }
  }
  delete env.RUSTY_V8_ARCHIVE;
  delete env.CARGO_BUILD_JOBS;
});

after(() => {
  registry?.child.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the release: npm run artifacts, then npm publish publishes the platform package first', (t) => {
  const repo = path.join(work, 'repo');
  copyRepository(repo);
  // A release from a checkout without the platform binary is refused before anything is published.
  const refused = run('npm', ['publish'], { cwd: repo, allowFailure: true });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /npm\/linux-x64-gnu\/isolated-vm-rs\.linux-x64-gnu\.node is missing/);
  assert.equal(run('npm', ['view', 'isolated-vm-rs', 'version'], { cwd: repo, allowFailure: true }).stdout.trim(), '');

  run('npm', ['run', 'artifacts'], { cwd: repo });
  // npm pack alone is refused too: its tarball would lack the optional dependency on the binary,
  // which napi prepublish adds for the publish.
  const packed = run('npm', ['pack', '--dry-run'], { cwd: repo, allowFailure: true });
  assert.notEqual(packed.status, 0);
  assert.match(packed.stderr, /optionalDependencies\["isolated-vm-rs-linux-x64-gnu"\] is missing/);

  run('npm', ['publish'], { cwd: repo });
  // Publishing leaves the checkout's package files as they were (nothing to commit afterwards).
  for (const file of ['package.json', 'npm/linux-x64-gnu/package.json']) {
    assert.equal(readFileSync(path.join(repo, file), 'utf8'), readFileSync(path.join(root, file), 'utf8'), `${file} was changed by npm publish`);
  }

  const main = JSON.parse(run('npm', ['view', `isolated-vm-rs@${version}`, '--json'], { cwd: work }).stdout);
  assert.deepEqual(main.optionalDependencies, { 'isolated-vm-rs-linux-x64-gnu': version });
  assert.equal(main.repository?.type, 'git');
  assert.ok(main.homepage && main.bugs?.url, 'homepage and bugs are set');
  const platform = JSON.parse(run('npm', ['view', `isolated-vm-rs-linux-x64-gnu@${version}`, '--json'], { cwd: work }).stdout);
  assert.deepEqual([platform.os, platform.cpu, platform.libc], [['linux'], ['x64'], ['glibc']]);
  // The tarballs as the registry serves them.
  const [mainTgz, platformTgz] = JSON.parse(
    run('npm', ['pack', '--dry-run', '--json', `isolated-vm-rs@${version}`, `isolated-vm-rs-linux-x64-gnu@${version}`], { cwd: work }).stdout,
  );
  assert.deepEqual(mainTgz.files.map((f) => f.path).sort(), ['LICENSE', 'README.md', 'binding.js', 'index.d.ts', 'index.js', 'index.mjs', 'package.json'].filter((f) => f !== 'LICENSE' || existsSync(path.join(root, 'LICENSE'))));
  assert.deepEqual(platformTgz.files.map((f) => f.path).sort(), ['README.md', NODE_FILE, 'package.json']);
  assert.ok(platformTgz.unpackedSize > 20e6, `the platform package carries the binary (${platformTgz.unpackedSize} bytes)`);
  const kB = (n) => `${(n / 1e3).toFixed(0)} kB`;
  t.diagnostic(
    `tarballs: isolated-vm-rs ${kB(mainTgz.size)} (${kB(mainTgz.unpackedSize)} unpacked), ` +
      `isolated-vm-rs-linux-x64-gnu ${kB(platformTgz.size)} (${kB(platformTgz.unpackedSize)} unpacked)`,
  );
});

test('a fresh project installs both names without a Rust toolchain', () => {
  assert.equal(spawnSync('cargo', ['--version'], { env }).error?.code, 'ENOENT', 'cargo must not be on PATH');
  app = path.join(work, 'app');
  cpSync(path.join(here, 'app'), app, { recursive: true });
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  writeFileSync(path.join(app, 'quick-start.cjs'), quickStart());
  run('npm', ['install', 'isolated-vm-rs', 'isolated-vm@npm:isolated-vm-rs'], { cwd: app });
  const installed = (name) => JSON.parse(readFileSync(path.join(app, 'node_modules', name, 'package.json'), 'utf8'));
  assert.equal(installed('isolated-vm-rs').version, version);
  assert.equal(installed('isolated-vm').name, 'isolated-vm-rs');
  assert.equal(installed('isolated-vm-rs-linux-x64-gnu').version, version);
  assert.ok(statSync(path.join(app, 'node_modules', 'isolated-vm-rs-linux-x64-gnu', NODE_FILE)).size > 20e6);
  const deps = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')).dependencies;
  assert.equal(deps['isolated-vm'], `npm:isolated-vm-rs@^${version}`);
});

test('the README quick start runs as printed', () => {
  const r = run(process.execPath, ['quick-start.cjs'], { cwd: app });
  assert.deepEqual(lines(r.stdout + r.stderr).sort(), QUICK_START);
});

test('ESM: default and named imports', () => {
  const r = run(process.execPath, ['esm.mjs'], { cwd: app });
  assert.deepEqual(lines(r.stdout), ['guest says 42', 'esm: true 42']);
});

test('TypeScript: tsc --strict with module nodenext, then the emitted program runs', () => {
  run(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json'], { cwd: app });
  const r = run(process.execPath, ['dist/typed.mjs'], { cwd: app });
  assert.deepEqual(lines(r.stdout), ['typed: 42 3 42']);
});

test('TypeScript: tsc --strict with bundler resolution', () => {
  run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], { cwd: app });
});

test("existing isolated-vm code through the alias: require('isolated-vm')", () => {
  const r = run(process.execPath, ['alias.cjs'], { cwd: app });
  assert.deepEqual(lines(r.stdout), ['alias: isolated-vm-rs true 42']);
});

// Deno in an installed project needs --allow-ffi only (to load the addon; it can be narrowed to
// the platform package's folder): reading node_modules needs no --allow-read, and binding.js
// asks for no --allow-env, --allow-run or --allow-sys.
const deno = cachedRuntime('deno-', 'node_modules/@deno/linux-x64-glibc/deno');
test('Deno runs the quick start and the ESM program with --allow-ffi alone', { skip: !deno && 'no Deno in .cache/runtimes (npm run test:runtimes installs it)' }, () => {
  const denoEnv = { ...env, NO_COLOR: '1' };
  const flags = ['run', '--no-lock', '--no-prompt'];
  const quick = run(deno, [...flags, '--allow-ffi=node_modules/isolated-vm-rs-linux-x64-gnu', 'quick-start.cjs'], { cwd: app, env: denoEnv });
  assert.deepEqual(lines(quick.stdout + quick.stderr).sort(), QUICK_START);
  const esm = run(deno, [...flags, '--allow-ffi', 'esm.mjs'], { cwd: app, env: denoEnv });
  assert.deepEqual(lines(esm.stdout), ['guest says 42', 'esm: true 42']);
  // Without --allow-ffi, Deno's own error says what is missing.
  const denied = run(deno, [...flags, 'quick-start.cjs'], { cwd: app, allowFailure: true, env: denoEnv });
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /Requires ffi access to .*isolated-vm-rs\.linux-x64-gnu\.node.*--allow-ffi/);
});

const bun = cachedRuntime('bun-', 'node_modules/@oven/bun-linux-x64/bin/bun') ?? cachedRuntime('bun-', 'node_modules/@oven/bun-linux-x64-baseline/bin/bun');
test('Bun runs the quick start', { skip: !bun && 'no Bun in .cache/runtimes (npm run test:runtimes installs it)' }, () => {
  const r = run(bun, ['quick-start.cjs'], { cwd: app });
  assert.deepEqual(lines(r.stdout + r.stderr).sort(), QUICK_START);
});
