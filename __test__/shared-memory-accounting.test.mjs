// SharedArrayBuffers entering an isolate (issue 11 item 5): each arrival, bare or through a
// view, adds the buffer's byteLength to the isolate's `externally_allocated_size` (also when the
// isolate already has that memory), until the guest collects what arrived, as in isolated-vm
// 5.0.4 (checked: 65536, 131072, 196608, 262144, then 0 after gc()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ivm from 'isolated-vm-rs';

test('every SharedArrayBuffer copied in counts its byteLength, bare, again, through a view or an ExternalCopy', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const external = () => isolate.getHeapStatisticsSync().externally_allocated_size;
  const sab = new SharedArrayBuffer(64 * 1024);
  const before = external();
  const grew = [];
  context.global.setSync('a', sab, { copy: true });
  grew.push(external() - before);
  context.global.setSync('b', sab, { copy: true });
  grew.push(external() - before);
  context.global.setSync('c', new Uint8Array(sab, 16, 8), { copy: true });
  grew.push(external() - before);
  context.global.setSync('d', new ivm.ExternalCopy(sab).copyInto());
  grew.push(external() - before);
  assert.deepEqual(grew, [65536, 131072, 196608, 262144]);
  // Still the same memory.
  context.evalSync('new Uint8Array(a)[0] = 7; new Uint8Array(d)[1] = 8');
  assert.deepEqual([...new Uint8Array(sab, 0, 2)], [7, 8]);
  isolate.dispose();
});

test('inside a guest, SharedArrayBuffers entering a nested isolate count the same way', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const grew = context.evalSync(`
    const inner = new ivm.Isolate();
    const ctx = inner.createContextSync();
    const sab = new SharedArrayBuffer(4096);
    const before = inner.getHeapStatisticsSync().externally_allocated_size;
    ctx.global.setSync('a', sab, { copy: true });
    ctx.global.setSync('b', sab, { copy: true });
    const grew = inner.getHeapStatisticsSync().externally_allocated_size - before;
    inner.dispose();
    grew;
  `);
  assert.equal(grew, 8192);
  isolate.dispose();
});

test('the charge ends when the guest collects the buffers (node --expose-gc)', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const program = `
    const ivm = require(${JSON.stringify(root)});
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const external = () => isolate.getHeapStatisticsSync().externally_allocated_size;
    const sab = new SharedArrayBuffer(65536);
    const before = external();
    context.global.setSync('a', sab, { copy: true });
    context.global.setSync('b', new Uint8Array(sab), { copy: true });
    const held = external() - before;
    context.evalSync('delete globalThis.a; delete globalThis.b; gc()');
    // V8 sweeps ArrayBuffers concurrently after a GC: the charge ends when their backing
    // stores are let go, soon after.
    let tries = 0;
    const check = () => {
      if (external() - before === 0 || ++tries === 100) return console.log(held, external() - before);
      context.evalSync('gc()');
      setTimeout(check, 10);
    };
    check();
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', program], { encoding: 'utf8' }).trim();
  assert.equal(out, '131072 0');
});
