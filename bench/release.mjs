#!/usr/bin/env node
// Memory given back (issue 11 item 18, issue 12): 100 isolates that each held about 4 MB, either
// disposed or left for Node's garbage collector, for isolated-vm-rs and isolated-vm 5.0.4 in the
// same run, each measurement in its own child process (node --expose-gc). Reports the RSS the
// isolates added, what was left right after the disposals / inside gc() (and how long that gc()
// took), and what was left half a second later.
//   node bench/release.mjs [--libs ours,theirs] [--runs 3] [--markdown FILE]
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadLib, libLabel, libVersion } from './lib/libs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    libs: { type: 'string', default: 'ours,theirs' },
    runs: { type: 'string', default: '3' },
    markdown: { type: 'string' },
    child: { type: 'string' },
    lib: { type: 'string' },
  },
});

const COUNT = 100;

async function child(lib, how) {
  const { ivm } = loadLib(lib);
  const rss = () => process.memoryUsage.rss() / 2 ** 20;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // Warm-up: one-time initialisation is not charged.
  new ivm.Isolate().createContextSync().evalSync('1');
  gc();
  await sleep(300);
  const base = rss();
  const isolates = [];
  for (let i = 0; i < COUNT; i++) {
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    isolate.createContextSync().evalSync('globalThis.a = []; for (let i = 0; i < 20000; i++) a.push({ i, s: "x" + i })');
    isolates.push(isolate);
  }
  const grown = rss() - base;
  let ms;
  const started = process.hrtime.bigint();
  if (how === 'dispose') {
    for (const isolate of isolates) isolate.dispose();
    ms = Number(process.hrtime.bigint() - started) / 1e6;
  } else {
    isolates.length = 0;
    const t = process.hrtime.bigint();
    gc();
    ms = Number(process.hrtime.bigint() - t) / 1e6;
  }
  const right = rss() - base;
  await sleep(500);
  const later = rss() - base;
  process.stdout.write(JSON.stringify({ grown, right, later, ms }) + '\n');
}

if (opts.child) {
  await child(opts.lib, opts.child);
} else {
  const libs = opts.libs.split(',').filter((l) => loadLib(l).ok);
  const runs = Number(opts.runs);
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const rows = [];
  for (const how of ['dispose', 'gc']) {
    for (const lib of libs) {
      const got = [];
      for (let i = 0; i < runs; i++) {
        const r = spawnSync(process.execPath, ['--no-node-snapshot', '--expose-gc', fileURLToPath(import.meta.url), '--child', how, '--lib', lib], { encoding: 'utf8', timeout: 60_000 });
        const line = r.stdout.trim().split('\n').pop();
        if (r.status !== 0 || !line) throw new Error(`${lib} ${how}: exit ${r.status} ${r.stderr}`);
        got.push(JSON.parse(line));
      }
      const m = (k) => median(got.map((g) => g[k]));
      const row = `| ${how === 'dispose' ? `\`dispose()\` of each` : 'unreferenced, then `gc()`'} | ${libLabel(lib)} | ${m('grown').toFixed(0)} MB | ${m('right').toFixed(0)} MB | ${m('ms').toFixed(1)} ms | ${m('later').toFixed(0)} MB |`;
      rows.push(row);
      console.error(row);
    }
  }
  const report = [
    `Memory given back by ${COUNT} isolates of about 4 MB each, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; isolated-vm-rs ${libVersion('ours')}, isolated-vm ${libVersion('theirs')}; medians of ${runs} process runs per cell (\`node bench/release.mjs\`).`,
    'RSS is the whole process, above what it was before the isolates were made.',
    '',
    '| How they go | Library | RSS they added | left right after (after the disposals; inside `gc()`) | time (all the `dispose()` calls; the `gc()` call) | left 0.5 s later |',
    '|---|---|--:|--:|--:|--:|',
    ...rows,
    '',
  ].join('\n');
  if (opts.markdown) writeFileSync(opts.markdown, report);
  process.stdout.write(report);
}
