// One memory measurement for one library, in a fresh process:
//   node --no-node-snapshot --expose-gc bench/lib/mem-child.mjs --case <file> --lib ours|theirs
// Creates `count` objects via the case's create(ivm), keeps them alive and
// reports the RSS growth per object (after gc) as JSON on stdout.
import { parseArgs } from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CASES_DIR, loadLib } from './libs.mjs';

const { values: opts } = parseArgs({
  options: { case: { type: 'string' }, lib: { type: 'string' }, count: { type: 'string' } },
});
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

const c = (await import(pathToFileURL(path.join(CASES_DIR, opts.case)).href)).default;
const lib = loadLib(opts.lib);
if (!lib.ok) {
  process.stdout.write(JSON.stringify({ error: lib.error }) + '\n');
  process.exit(0);
}
const count = Number(opts.count ?? c.count ?? 100);

async function settle() {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
}

// Warm-up: one-time initialisation (V8 platform, snapshot, code) is not charged
// to the per-isolate figure.
for (let i = 0; i < 2; i++) await c.destroy(await c.create(lib.ivm));
await settle();

const before = process.memoryUsage().rss;
const held = [];
for (let i = 0; i < count; i++) held.push(await c.create(lib.ivm));
await settle();
const after = process.memoryUsage().rss;

for (const h of held) await c.destroy(h);
held.length = 0;
await settle();
const afterDispose = process.memoryUsage().rss;

process.stdout.write(
  JSON.stringify({
    count,
    rssBefore: before,
    rssAfter: after,
    rssAfterDispose: afterDispose,
    perItemKiB: (after - before) / count / 1024,
  }) + '\n',
);
