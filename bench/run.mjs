#!/usr/bin/env node
// Benchmark driver: isolated-vm-rs (this package) vs isolated-vm 5.0.4.
//   node bench/run.mjs [--quick] [--json] [--out results.json] [--markdown RESULTS.md]
//                      [--cases create,evalSync] [--libs ours,theirs] [--repeat 3] [--mem-runs 3]
//                      [--require-ours] [--no-install] [--busy N]
// See bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, ROOT_DIR, LIB_NAMES, libLabel, libVersion, loadCases, median, stats } from './lib/libs.mjs';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    markdown: { type: 'string' },
    cases: { type: 'string', default: '' },
    libs: { type: 'string', default: LIB_NAMES.join(',') },
    'mem-runs': { type: 'string' },
    repeat: { type: 'string' },
    'require-ours': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    busy: { type: 'string', default: '0' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 5).join('\n'));
  process.exit(0);
}

const log = (...a) => console.error(...a);
const NODE_FLAGS = ['--no-node-snapshot', '--expose-gc']; // isolated-vm on Node >= 20 needs --no-node-snapshot
const wantedLibs = opts.libs.split(',').filter(Boolean);

// 1. Make sure the reference implementation is installed (built from source if no prebuild).
const ivmDir = path.join(BENCH_DIR, 'node_modules', 'isolated-vm');
const ivmBinary = path.join(ivmDir, 'out', 'isolated_vm.node');
if (wantedLibs.includes('theirs') && !existsSync(ivmBinary) && !opts['no-install']) {
  // package missing: install; package present but its native build missing: rebuild it
  const args = existsSync(ivmDir) ? ['rebuild', 'isolated-vm'] : ['install', '--no-audit', '--no-fund'];
  log(`bench: isolated-vm is not installed, running \`npm ${args.join(' ')}\` in bench/ (compiles from source when no prebuild is reachable, ~1 min on 2 cores)...`);
  const t0 = Date.now();
  const r = spawnSync('npm', args, {
    cwd: BENCH_DIR,
    stdio: ['ignore', 2, 2],
    env: { JOBS: '2', ...process.env },
  });
  if (r.status !== 0 || !existsSync(ivmBinary)) {
    log(`bench: npm ${args[0]} in bench/ failed (exit ${r.status ?? r.signal}).`);
    process.exit(1);
  }
  log(`bench: npm ${args[0]} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

function runChild(script, args) {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, path.join(BENCH_DIR, script), ...args], {
    cwd: ROOT_DIR,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
  });
  const line = (r.stdout ?? '').trim().split('\n').pop();
  if (r.status !== 0 || !line) throw new Error(`${script} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(line);
}

// `--busy N`: N processes spinning on the CPU for the whole run (a loaded machine: every thread
// hand-off then waits for the OS scheduler).
const busyCount = Math.max(0, Number(opts.busy) || 0);
const busy = [];
for (let i = 0; i < busyCount; i++) {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  child.unref(); // killed on exit; must not keep this process alive
  busy.push(child);
}
process.on('exit', () => busy.forEach((b) => b.kill('SIGKILL')));
if (busyCount) log(`bench: ${busyCount} busy-looping process(es) running`);

const started = Date.now();
const loadavgAtStart = os.loadavg().map((x) => +x.toFixed(2));
// our addon(s) in the package root; a rebuild during the run would make the numbers meaningless
const addonStamp = () =>
  readdirSync(ROOT_DIR)
    .filter((f) => f.endsWith('.node'))
    .map((f) => `${f}:${statSync(path.join(ROOT_DIR, f)).mtimeMs}`)
    .join(',');
const addonAtStart = addonStamp();
const filter = opts.cases.split(',').filter(Boolean);
const cases = await loadCases(filter);

// 2. Timing cases: child processes with both libraries loaded side by side.
// Repeated in `--repeat` fresh processes (thread placement etc. varies per process);
// the samples of all runs are pooled, and each run's median is kept too.
const repeat = Number(opts.repeat ?? (opts.quick ? 1 : 3));
const timeCases = cases.filter((c) => c.kind === 'time');
const suiteArgs = (libs, names) => [...(opts.quick ? ['--quick'] : []), '--libs', libs.join(','), '--cases', names.join(',')];

function runTimeSuite() {
  try {
    return runChild('suite.mjs', suiteArgs(wantedLibs, timeCases.map((c) => c.name)));
  } catch (err) {
    // A crash (e.g. a segfault in one addon) must not lose the other numbers:
    // redo case by case, and a case that still crashes with each library on its own.
    log(`bench: ${err.message}; retrying case by case`);
  }
  const suite = { libs: {}, results: [] };
  for (const c of timeCases) {
    try {
      const r = runChild('suite.mjs', suiteArgs(wantedLibs, [c.name]));
      Object.assign(suite.libs, r.libs);
      suite.results.push(...r.results);
      continue;
    } catch (e) {
      log(`bench: ${e.message}; running ${c.name} for each library separately`);
    }
    const merged = { name: c.name, title: c.title, kind: c.kind, unit: 'µs/op', batch: c.batch ?? 100, libs: {} };
    for (const lib of wantedLibs) {
      try {
        const r = runChild('suite.mjs', suiteArgs([lib], [c.name]));
        Object.assign(suite.libs, r.libs);
        Object.assign(merged.libs, r.results[0]?.libs);
      } catch (e) {
        merged.libs[lib] = { error: `process crashed: ${e.message}` };
      }
    }
    merged.note = 'libraries measured in separate processes (the shared run crashed)';
    suite.results.push(merged);
  }
  return suite;
}

const suite = { libs: {}, results: [] };
if (timeCases.length) {
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    if (repeat > 1) log(`bench: timing run ${i + 1}/${repeat}`);
    runs.push(runTimeSuite());
  }
  for (const run of runs) for (const [lib, st] of Object.entries(run.libs)) if (!suite.libs[lib]?.ok) suite.libs[lib] = st;
  for (const c of timeCases) {
    const per = runs.map((run) => run.results.find((r) => r.name === c.name)).filter(Boolean);
    if (!per.length) continue;
    const agg = { name: c.name, title: c.title, kind: c.kind, unit: 'µs/op', batch: per[0].batch, processRuns: per.length, libs: {} };
    const notes = [...new Set(per.map((r) => r.note).filter(Boolean))];
    if (notes.length) agg.note = notes.join('; ');
    for (const lib of wantedLibs) {
      const ok = per.map((r) => r.libs[lib]).filter((v) => v && !v.error);
      const err = per.map((r) => r.libs[lib]).find((v) => v?.error);
      if (ok.length) {
        const pooled = ok.flatMap((v) => v.samples);
        agg.libs[lib] = { ...stats(pooled), ops: ok.reduce((a, v) => a + v.ops, 0), runMedians: ok.map((v) => v.median) };
        if (err) agg.libs[lib].error = `failed in ${per.length - ok.length} of ${per.length} runs: ${err.error}`;
      } else if (err) agg.libs[lib] = { error: err.error };
    }
    // ratio ours/theirs per process run (same process, so directly comparable)
    agg.runRatios = per.map((r) => (r.libs.ours?.median && r.libs.theirs?.median ? r.libs.ours.median / r.libs.theirs.median : null));
    suite.results.push(agg);
  }
}
// 2b. Cases marked `separate: true` are measured once more with each library in its own
// process (processes alternate between the libraries, `--repeat` times). Sharing a process lets
// one library's allocations change the other's costs (page faults, caches): the copy cases
// shift a large part of isolated-vm's cost onto us when they alternate (see bench/README.md).
const separateResults = [];
for (const c of timeCases.filter((c) => c.separate)) {
  const perLib = Object.fromEntries(wantedLibs.map((l) => [l, []]));
  for (let i = 0; i < repeat; i++) {
    for (const lib of i % 2 ? [...wantedLibs].reverse() : wantedLibs) {
      log(`bench: ${c.name}, ${lib} in its own process (${i + 1}/${repeat})`);
      try {
        const r = runChild('suite.mjs', suiteArgs([lib], [c.name]));
        const v = r.results[0]?.libs[lib];
        if (v && !v.error) perLib[lib].push(v);
      } catch (e) {
        log(`bench: ${e.message}`);
      }
    }
  }
  const agg = { name: `${c.name}:separate`, title: `${c.title} — each library in its own process ²`, kind: c.kind, unit: 'µs/op', batch: c.batch ?? 100, processRuns: repeat, separate: true, libs: {} };
  for (const lib of wantedLibs) {
    const ok = perLib[lib];
    if (ok.length) agg.libs[lib] = { ...stats(ok.flatMap((v) => v.samples)), ops: ok.reduce((a, v) => a + v.ops, 0), runMedians: ok.map((v) => v.median) };
    else agg.libs[lib] = { error: 'no successful run' };
  }
  const o = agg.libs.ours?.runMedians ?? [];
  const t = agg.libs.theirs?.runMedians ?? [];
  agg.runRatios = o.map((x, i) => (t[i] ? x / t[i] : null));
  separateResults.push(agg);
}
suite.results.push(...separateResults);
const libStatus = { ...suite.libs };

// 3. Memory cases: a fresh child per library and run, alternating libraries.
const memRuns = Number(opts['mem-runs'] ?? (opts.quick ? 1 : 3));
const memResults = [];
for (const c of cases.filter((c) => c.kind === 'memory')) {
  log(`[mem] ${c.name}: ${c.title}, ${memRuns} run(s) per library`);
  const runs = Object.fromEntries(wantedLibs.map((l) => [l, []]));
  const errors = {};
  for (let i = 0; i < memRuns; i++) {
    for (const lib of i % 2 ? [...wantedLibs].reverse() : wantedLibs) {
      if (errors[lib]) continue;
      const r = runChild('lib/mem-child.mjs', ['--case', c.file, '--lib', lib]);
      if (r.error) {
        errors[lib] = r.error;
        libStatus[lib] ??= { ok: false, error: r.error };
        log(`[mem]   ${lib}: could not be loaded, skipping it: ${r.error}`);
        continue;
      }
      libStatus[lib] ??= { ok: true, version: libVersion(lib) };
      runs[lib].push(r);
      log(`[mem]   ${lib.padEnd(6)} ${r.perItemKiB.toFixed(0)} KiB per item (RSS ${(r.rssBefore / 2 ** 20).toFixed(0)} -> ${(r.rssAfter / 2 ** 20).toFixed(0)} MiB, ${(r.rssAfterDispose / 2 ** 20).toFixed(0)} MiB after dispose)`);
    }
  }
  const libs = {};
  for (const lib of wantedLibs) {
    if (runs[lib].length) {
      const v = runs[lib].map((r) => r.perItemKiB);
      libs[lib] = { median: median(v), p95: Math.max(...v), min: Math.min(...v), runs: runs[lib] };
    }
  }
  memResults.push({ name: c.name, title: c.title, kind: 'memory', unit: 'KiB/isolate', count: c.count, runs: memRuns, libs });
}

// 4. Report.
function sh(cmd, args) {
  try {
    return spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT_DIR }).stdout.trim() || null;
  } catch {
    return null;
  }
}
function cpuModel() {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? os.cpus()[0]?.model;
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}
const env = {
  date: new Date().toISOString(),
  nproc: os.availableParallelism?.() ?? os.cpus().length,
  cpu: cpuModel(),
  ramGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
  loadavgAtStart,
  loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)),
  addonChangedDuringRun: addonStamp() !== addonAtStart,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  nodeFlags: NODE_FLAGS.join(' '),
  theirs: { name: 'isolated-vm', version: libVersion('theirs') },
  ours: {
    name: 'isolated-vm-rs',
    version: libVersion('ours'),
    commit: sh('git', ['rev-parse', '--short', 'HEAD']),
    addonBuilt: readdirSync(ROOT_DIR)
      .filter((f) => f.endsWith('.node'))
      .map((f) => `${f} ${statSync(path.join(ROOT_DIR, f)).mtime.toISOString()}`)
      .join(', '),
  },
  quick: opts.quick,
  busy: busyCount,
  durationS: Math.round((Date.now() - started) / 1000),
};
const results = [...suite.results, ...memResults];
const report = { env, libs: libStatus, results };

function fmt(v, unit) {
  if (v == null || Number.isNaN(v)) return 'n/a';
  if (unit.startsWith('KiB')) return v >= 10240 ? `${(v / 1024).toFixed(1)} MiB` : `${v.toFixed(0)} KiB`;
  if (v >= 1000) return `${(v / 1000).toFixed(2)} ms`;
  if (v >= 100) return `${v.toFixed(0)} µs`;
  if (v >= 10) return `${v.toFixed(1)} µs`;
  return `${v.toFixed(2)} µs`;
}

function markdownTable() {
  const [A, B] = ['theirs', 'ours'];
  const rows = [
    `| Benchmark | ${libLabel(A)} median | ${libLabel(A)} mean | ${libLabel(A)} p95 | ${libLabel(B)} median | ${libLabel(B)} mean | ${libLabel(B)} p95 | ours/theirs (median) | ours/theirs (mean) | ratio per process run |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of results) {
    const a = r.libs[A];
    const b = r.libs[B];
    const cell = (x, k) => (!x ? 'n/a' : x.error ? 'error' : fmt(x[k], r.unit));
    const both = a && b && !a.error && !b.error;
    const ratio = both ? `${(b.median / a.median).toFixed(2)}×` : 'n/a';
    const meanRatio = both && a.mean && b.mean ? `${(b.mean / a.mean).toFixed(2)}×` : 'n/a';
    const title = r.kind === 'memory' ? `${r.title} ¹` : r.title;
    const perRun = (r.runRatios ?? []).map((x) => (x == null ? 'n/a' : `${x.toFixed(2)}×`)).join(', ') || '–';
    rows.push(`| ${title.replaceAll('|', '\\|')} | ${cell(a, 'median')} | ${cell(a, 'mean')} | ${cell(a, 'p95')} | ${cell(b, 'median')} | ${cell(b, 'mean')} | ${cell(b, 'p95')} | ${ratio} | ${meanRatio} | ${perRun} |`);
  }
  return rows.join('\n');
}

// e.g. "100 ops; 10 for create, dispose; 2 for copyObjects"
function batchSizesText() {
  const by = new Map();
  for (const r of suite.results.filter((x) => !x.separate)) by.set(r.batch, [...(by.get(r.batch) ?? []), r.name]);
  const sizes = [...by.keys()].sort((a, b) => by.get(b).length - by.get(a).length);
  if (!sizes.length) return 'no timing cases';
  return [`${sizes[0]} ops`, ...sizes.slice(1).map((n) => `${n} for ${by.get(n).join(', ')}`)].join('; ');
}

function markdownReport() {
  const notes = [];
  for (const lib of wantedLibs) {
    const s = libStatus[lib];
    if (s && !s.ok) notes.push(`**${libLabel(lib)} was not measured**: ${s.error}`);
  }
  if (env.addonChangedDuringRun) notes.push('**WARNING: the isolated-vm-rs addon was rebuilt during this run; the numbers are not reliable.**');
  for (const r of results) {
    for (const [lib, v] of Object.entries(r.libs)) if (v.error) notes.push(`${r.title}: ${libLabel(lib)} error: ${v.error}`);
    if (r.note) notes.push(`${r.title}: ${r.note}`);
  }
  return [
    `- Date: ${env.date}`,
    `- Machine: ${env.nproc} CPUs (${env.cpu}), ${env.ramGiB} GiB RAM, ${env.os}; load average (1/5/15 min) at start ${env.loadavgAtStart.join(' / ')}, at end ${env.loadavgAtEnd.join(' / ')}`,
    `- Node ${env.node} (\`${env.nodeFlags}\`)`,
    `- Load: ${env.busy ? `${env.busy} busy-looping process(es) on the ${env.nproc} CPUs for the whole run` : 'none added (a quiet machine)'}`,
    `- isolated-vm ${env.theirs.version ?? 'not installed'}; isolated-vm-rs ${env.ours.version}${env.ours.commit ? ` (HEAD ${env.ours.commit}` : ' ('}${env.ours.addonBuilt ? `; addon ${env.ours.addonBuilt}` : ''})`,
    `- Run: \`${['node bench/run.mjs', ...process.argv.slice(2)].join(' ')}\`, ${env.durationS} s`,
    '',
    markdownTable(),
    '',
    `Times are per operation: each sample is a batch of ops timed together (${batchSizesText()}),`,
    `median, mean and p95 are over the batches of ${repeat} process run(s), pooled (the mean is the mean cost per op). Both libraries run in the same process,`,
    'batches alternate between them; "ratio per process run" is ours/theirs of the medians within each run.',
    'Ratio < 1 means isolated-vm-rs is faster / smaller.',
    ...memResults.map((r) => `¹ ${r.title}: RSS growth per item after gc, each library in its own process; median and max ("p95" column) over ${r.runs} process run(s).`),
    ...(separateResults.length
      ? [
          `² The same case again with each library alone in its own process (${repeat} process run(s) per library, alternating);`,
          '"ratio per process run" pairs the i-th process of each library. In a shared process the two libraries\' allocations',
          'interact (see bench/README.md), so both rows are reported.',
        ]
      : []),
    ...notes.map((n) => `\n${n}`),
  ].join('\n');
}

if (opts.out) writeFileSync(path.resolve(opts.out), JSON.stringify(report, null, 2) + '\n');
if (opts.markdown) writeFileSync(path.resolve(opts.markdown), `# Benchmark results\n\n${markdownReport()}\n`);
if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
else console.log(`\n${markdownReport()}`);

if (env.addonChangedDuringRun) log('\nbench: WARNING: the isolated-vm-rs addon changed during the run; rerun.');

const oursBroken = wantedLibs.includes('ours') && !libStatus.ours?.ok;
if (oursBroken) {
  log(`\nbench: isolated-vm-rs could not be loaded from ${ROOT_DIR} (${libStatus.ours?.error ?? 'not run'}); only isolated-vm was measured. Build the addon first (npm run build).`);
  if (opts['require-ours']) process.exit(1);
}
