#!/usr/bin/env node
// Load cost of each library, in fresh processes: the time `require()` takes, the RSS it adds to
// a bare Node process, and the time to the first result (new Isolate + createContextSync +
// evalSync). isolated-vm-rs is loaded from the package root, isolated-vm 5.0.4 from
// bench/node_modules (see bench/README.md); both run under the same Node flags as the suite.
//
//   node bench/startup.mjs [--runs 20] [--cold] [--json]
//   --runs   fresh processes per library (alternating), default 20
//   --cold   before each run, drop the page cache of that library's .node file(s)
//            (`dd iflag=nocache`, that file only), as after a reboot or on a busy host
//
// Results go in bench/SIZE.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, ROOT_DIR, libLabel, libVersion, median, percentile } from './lib/libs.mjs';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    cold: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs);
const NODE_FLAGS = ['--no-node-snapshot']; // what the suite runs with (isolated-vm needs it on Node >= 20)

const libs = {
  ours: { entry: ROOT_DIR, nodeFiles: () => readdirSync(ROOT_DIR).filter((f) => f.endsWith('.node')).map((f) => path.join(ROOT_DIR, f)) },
  theirs: {
    entry: path.join(BENCH_DIR, 'node_modules', 'isolated-vm'),
    nodeFiles: () => [path.join(BENCH_DIR, 'node_modules', 'isolated-vm', 'out', 'isolated_vm.node')],
  },
};
for (const [name, lib] of Object.entries(libs)) {
  if (!existsSync(path.join(lib.entry, 'package.json'))) {
    console.error(`startup: ${libLabel(name)} not found at ${lib.entry} (run npm run bench once, or npm run build)`);
    process.exit(1);
  }
}

const CHILD = `
const rss0 = process.memoryUsage().rss;
const t0 = process.hrtime.bigint();
const ivm = require(process.argv[1]);
const t1 = process.hrtime.bigint();
const rss1 = process.memoryUsage().rss;
const isolate = new ivm.Isolate();
const context = isolate.createContextSync();
if (context.evalSync('1 + 1') !== 2) throw new Error('wrong result');
const t2 = process.hrtime.bigint();
const rss2 = process.memoryUsage().rss;
isolate.dispose();
process.stdout.write(JSON.stringify({ requireMs: Number(t1 - t0) / 1e6, firstResultMs: Number(t2 - t1) / 1e6, rssRequire: rss1 - rss0, rssFirst: rss2 - rss0, rssBare: rss0 }));
`;

function dropCache(files) {
  for (const f of files) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
}

const samples = { ours: [], theirs: [] };
for (let i = 0; i < runs; i++) {
  for (const name of i % 2 ? ['theirs', 'ours'] : ['ours', 'theirs']) {
    if (opts.cold) dropCache(libs[name].nodeFiles());
    const r = spawnSync(process.execPath, [...NODE_FLAGS, '-e', CHILD, libs[name].entry], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`startup: ${libLabel(name)} failed:\n${r.stderr}`);
      process.exit(1);
    }
    samples[name].push(JSON.parse(r.stdout));
  }
}

const summary = {};
for (const name of Object.keys(libs)) {
  const col = (k) => samples[name].map((s) => s[k]).sort((a, b) => a - b);
  summary[name] = {
    version: libVersion(name),
    requireMs: { median: median(col('requireMs')), p95: percentile(col('requireMs'), 95) },
    firstResultMs: { median: median(col('firstResultMs')), p95: percentile(col('firstResultMs'), 95) },
    rssRequireMiB: median(col('rssRequire')) / 2 ** 20,
    rssFirstMiB: median(col('rssFirst')) / 2 ** 20,
    rssBareMiB: median(col('rssBare')) / 2 ** 20,
  };
}
if (opts.json) {
  console.log(JSON.stringify({ node: process.version, flags: NODE_FLAGS, runs, cold: opts.cold, summary }, null, 2));
  process.exit(0);
}
const [A, B] = [summary.theirs, summary.ours];
const ms = (x) => `${x.median.toFixed(1)} ms (p95 ${x.p95.toFixed(1)})`;
const mib = (x) => `+${x.toFixed(1)} MiB`;
console.log(`Node ${process.version} ${NODE_FLAGS.join(' ')}, ${runs} fresh processes per library${opts.cold ? ', page cache of the .node files dropped before each' : ''}; bare process RSS ${A.rssBareMiB.toFixed(0)} MiB\n`);
console.log(`| | ${libLabel('theirs')} ${A.version} | ${libLabel('ours')} ${B.version} | ratio |\n|---|--:|--:|--:|`);
console.log(`| \`require()\` | ${ms(A.requireMs)} | ${ms(B.requireMs)} | ${(B.requireMs.median / A.requireMs.median).toFixed(2)}× |`);
console.log(`| RSS after \`require()\` | ${mib(A.rssRequireMiB)} | ${mib(B.rssRequireMiB)} | |`);
console.log(`| then first \`new Isolate()\` + \`createContextSync()\` + \`evalSync('1 + 1')\` | ${ms(A.firstResultMs)} | ${ms(B.firstResultMs)} | ${(B.firstResultMs.median / A.firstResultMs.median).toFixed(2)}× |`);
console.log(`| RSS after that | ${mib(A.rssFirstMiB)} | ${mib(B.rssFirstMiB)} | |`);
