#!/usr/bin/env node
// Memory-limit shapes (issue 12): for each guest that does not fit under its limit, the time to
// stop, the peak RSS of the process (VmHWM) and how the call ended, for isolated-vm-rs and
// isolated-vm 5.0.4 in the same run, each shape in its own child process (a library that dies
// reports that as its figure).
//   node bench/limits.mjs [--libs ours,theirs] [--mode sync|async] [--markdown FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const shapes = createRequire(import.meta.url)(path.join(root, '__test__', 'fixtures', 'shapes.cjs'));
const fixture = path.join(root, '__test__', 'fixtures', 'shape.cjs');
const { values: opts } = parseArgs({
  options: {
    libs: { type: 'string', default: 'ours,theirs' },
    mode: { type: 'string', default: 'async' },
    markdown: { type: 'string' },
  },
});
const libs = {
  ours: root,
  theirs: path.join(here, 'node_modules', 'isolated-vm'),
};

function run(lib, shape) {
  const spec = { ...shape, module: libs[lib], mode: opts.mode, catastrophe: true };
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--no-node-snapshot', fixture, JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const wall = Date.now() - started;
  const line = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !line) {
    if (r.signal === 'SIGTERM' && wall >= 20_000) return { text: '**no answer within 20 s** (hung; killed by the bench)' };
    const why = r.signal ? `killed (${r.signal})` : `exit ${r.status}`;
    const tail = (r.stderr || '').trim().split('\n').filter(Boolean).slice(0, 2).join(' ').slice(0, 80);
    return { text: `**host died**: ${why} after ${wall} ms${tail ? ` (${tail})` : ''}` };
  }
  const rep = JSON.parse(line);
  const end = rep.ok ? `completed (${String(rep.value).slice(0, 20)})` : rep.message;
  return { text: `${end}; ${rep.ms.toFixed(0)} ms; peak ${rep.hwm.toFixed(0)} MB${rep.catastrophes.length ? '; onCatastrophicError' : ''}` };
}

const wanted = opts.libs.split(',').filter((l) => l === 'ours' || existsSync(libs[l]));
const rows = [];
for (const shape of shapes) {
  const cells = wanted.map((lib) => run(lib, shape).text);
  rows.push(`| ${shape.name} | ${shape.limit} | ${cells.join(' | ')} |`);
  console.error(rows.at(-1));
}
const report = [
  `Memory-limit shapes, ${opts.mode} calls, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}.`,
  '',
  `| shape | limit (MB) | ${wanted.map((l) => (l === 'ours' ? 'isolated-vm-rs' : 'isolated-vm 5.0.4')).join(' | ')} |`,
  `|---|---|${wanted.map(() => '---').join('|')}|`,
  ...rows,
  '',
].join('\n');
console.log(report);
if (opts.markdown) writeFileSync(opts.markdown, report);
