// Timing benchmarks. Both libraries are loaded into THIS process and measured
// in alternating batches, so machine noise hits both sides alike.
//
// Normally started by run.mjs as:  node --no-node-snapshot --expose-gc bench/suite.mjs [opts]
// (isolated-vm on Node >= 20 needs --no-node-snapshot.)
// Writes one JSON document to stdout (stats and raw per-batch samples); progress goes to stderr.
//
// Options: --cases a,b   only these cases (name or file-name substring)
//          --libs ours,theirs
//          --quick       shorter time budget
import { parseArgs } from 'node:util';
import { LIB_NAMES, loadLib, loadCases, stats } from './lib/libs.mjs';

const { values: opts } = parseArgs({
  options: {
    cases: { type: 'string', default: '' },
    libs: { type: 'string', default: LIB_NAMES.join(',') },
    quick: { type: 'boolean', default: false },
  },
});

const BUDGET_MS = opts.quick ? 1500 : 4000; // measuring time per case, both libs together
const WARMUP_MS = opts.quick ? 150 : 300; // per case and lib
const MIN_ROUNDS = opts.quick ? 15 : 30; // at least this many batches per lib
const MAX_ROUNDS = opts.quick ? 2000 : 3000;

const log = (...a) => console.error('[suite]', ...a);
const gc = globalThis.gc ?? (() => {});
const now = () => process.hrtime.bigint();

async function timeBatch(h, isAsync, n) {
  if (h.beforeBatch) await h.beforeBatch(n);
  const keep = h.afterBatch ? new Array(n) : null;
  let t0, t1;
  if (isAsync) {
    t0 = now();
    if (keep) for (let i = 0; i < n; i++) keep[i] = await h.run();
    else for (let i = 0; i < n; i++) await h.run();
    t1 = now();
  } else {
    t0 = now();
    if (keep) for (let i = 0; i < n; i++) keep[i] = h.run();
    else for (let i = 0; i < n; i++) h.run();
    t1 = now();
  }
  if (h.afterBatch) await h.afterBatch(keep);
  return Number(t1 - t0) / 1000 / n; // µs per op
}

async function runCase(c, libs) {
  const batch = c.batch ?? 100;
  const isAsync = !!c.async;
  const res = { name: c.name, title: c.title, kind: c.kind, unit: 'µs/op', batch, libs: {} };
  const active = [];
  for (const [name, lib] of libs) {
    try {
      const h = await c.setup(lib.ivm);
      if (h.check && !(await h.check())) throw new Error('sanity check failed (wrong result)');
      active.push({ name, h, samples: [] });
    } catch (err) {
      res.libs[name] = { error: String(err?.message ?? err) };
      log(`  ${name}: setup failed: ${res.libs[name].error}`);
    }
  }
  // warm-up (untimed)
  for (const a of active) {
    const end = Date.now() + WARMUP_MS;
    do await timeBatch(a.h, isAsync, batch);
    while (Date.now() < end);
  }
  gc();
  // measure: alternate libs each round, swapping who goes first
  const start = Date.now();
  for (let r = 0; r < MAX_ROUNDS; r++) {
    const order = r % 2 ? [...active].reverse() : active;
    for (const a of order) a.samples.push(await timeBatch(a.h, isAsync, batch));
    if (r + 1 >= MIN_ROUNDS && Date.now() - start > BUDGET_MS) break;
  }
  for (const a of active) {
    res.libs[a.name] = { ...stats(a.samples), ops: a.samples.length * batch, samples: a.samples.map((x) => +x.toPrecision(5)) };
    try {
      await a.h.teardown?.();
    } catch (err) {
      log(`  ${a.name}: teardown failed: ${err?.message ?? err}`);
    }
  }
  gc();
  return res;
}

const wanted = opts.libs.split(',').filter(Boolean);
const libs = new Map();
const libInfo = {};
for (const name of wanted) {
  const l = loadLib(name);
  libInfo[name] = l.ok ? { ok: true, version: l.version } : { ok: false, error: l.error };
  if (l.ok) libs.set(name, l);
  else log(`${name}: could not be loaded, skipping it: ${l.error}`);
}

const filter = opts.cases.split(',').filter(Boolean);
const cases = (await loadCases(filter)).filter((c) => c.kind === 'time');
const results = [];
for (const c of cases) {
  log(`${c.name}: ${c.title}`);
  const r = await runCase(c, libs);
  for (const [name, v] of Object.entries(r.libs)) {
    if (!v.error) log(`  ${name.padEnd(6)} median ${v.median.toFixed(2)} µs  p95 ${v.p95.toFixed(2)} µs  (${v.batches} batches x ${r.batch})`);
  }
  results.push(r);
}

process.stdout.write(JSON.stringify({ libs: libInfo, results }) + '\n');
