// What enters an isolate from outside is charged to it, as in isolated-vm 5.0.4 (issue 11 item
// 5): strings of 1024 bytes or more (1024 one-byte or 512 two-byte units) arrive as external
// strings, and every SharedArrayBuffer that arrives (bare, through a view or an ExternalCopy, also
// memory the isolate already has) adds its byteLength; both count in `externally_allocated_size`
// and against the memory limit until the guest's GC collects what arrived. Checked against
// isolated-vm 5.0.4: 'x'.repeat(4096) → 4096; a 64 KiB SharedArrayBuffer four times → 65536,
// 131072, 196608, 262144, then 0 after gc().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ivm from 'isolated-vm-rs';

const external = (isolate) => isolate.getHeapStatisticsSync().externally_allocated_size;

// How much `steps` (guest code using `ctx`, a context of a nested isolate) adds to that nested
// isolate's external size: the guest face.
function nestedGrowth(steps) {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const grew = context.evalSync(`
    const inner = new ivm.Isolate();
    const ctx = inner.createContextSync();
    const before = inner.getHeapStatisticsSync().externally_allocated_size;
    ${steps}
    const grew = inner.getHeapStatisticsSync().externally_allocated_size - before;
    inner.dispose();
    grew;
  `);
  isolate.dispose();
  return grew;
}

// Runs `body` with node --expose-gc, given `ivm`, `isolate`, `context` and `external()`; returns
// what it prints.
function withGc(body) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const program = `
    const ivm = require(${JSON.stringify(root)});
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const external = () => isolate.getHeapStatisticsSync().externally_allocated_size;
    ${body}
  `;
  return execFileSync(process.execPath, ['--expose-gc', '-e', program], { encoding: 'utf8' }).trim();
}

test('a long string set into a guest counts its bytes in externally_allocated_size', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const before = external(isolate);
  context.global.setSync('s', 'x'.repeat(4096));
  assert.equal(external(isolate) - before, 4096);
  context.global.setSync('t', '\u4e00'.repeat(512)); // two-byte: 1024 bytes
  assert.equal(external(isolate) - before, 4096 + 1024);
  assert.equal(context.evalSync('s.length + t.length + (s[4095] + t[511])'), '4608x\u4e00');
  isolate.dispose();
});

test('inside a guest, long strings entering a nested isolate count the same way', () => {
  assert.equal(nestedGrowth("ctx.global.setSync('s', 'x'.repeat(4096)); ctx.global.setSync('t', 'x'.repeat(100));"), 4096);
});

test('shorter strings stay on the V8 heap', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const before = external(isolate);
  context.global.setSync('s', 'x'.repeat(1023));
  context.global.setSync('t', '\u4e00'.repeat(511));
  assert.equal(external(isolate) - before, 0);
  assert.equal(context.evalSync('s.length + t.length'), 1534);
  isolate.dispose();
});

test('every way in counts: ExternalCopy, copy, arguments, nested values, script source', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const before = external(isolate);
  const long = 'y'.repeat(2048);
  context.global.setSync('a', new ivm.ExternalCopy(long).copyInto());
  context.global.setSync('b', { nested: [long] }, { copy: true });
  context.evalClosureSync('globalThis.c = $0', [long]);
  const source = `globalThis.d = ${JSON.stringify(long)}.length`;
  const script = isolate.compileScriptSync(source);
  script.runSync(context);
  // Three strings of 2048 bytes, and the source of the script (which the script keeps).
  assert.equal(external(isolate) - before, 3 * 2048 + source.length);
  assert.equal(context.evalSync('a === c && b.nested[0] === c && d'), 2048);
  isolate.dispose();
});

test('a long string counts until the guest collects it (node --expose-gc)', () => {
  const out = withGc(`
    const before = external();
    context.global.setSync('s', 'z'.repeat(1 << 20));
    const held = external() - before;
    context.evalSync('delete globalThis.s; gc()');
    console.log(held, external() - before);
  `);
  assert.equal(out, `${1 << 20} 0`);
});

test('long strings count against the memory limit: live ones dispose the isolate, garbage ones do not', () => {
  const mb = 'm'.repeat(1 << 20);
  // Garbage: the same global is overwritten, so a full GC frees the older strings.
  const reused = new ivm.Isolate({ memoryLimit: 8 });
  const context = reused.createContextSync();
  for (let i = 0; i < 40; i++) context.global.setSync('s', mb + i);
  assert.equal(context.evalSync('s.length'), (1 << 20) + 2);
  assert.equal(reused.isDisposed, false);
  reused.dispose();
  // Alive: forty distinct strings kept by the guest are 40 MB against a limit of 8.
  const kept = new ivm.Isolate({ memoryLimit: 8 });
  const keeper = kept.createContextSync();
  keeper.evalSync('globalThis.keep = []');
  const push = keeper.global.getSync('keep').getSync('push', { reference: true });
  assert.throws(() => {
    for (let i = 0; i < 40; i++) keeper.evalClosureSync('keep.push($0)', [mb + i]);
  }, { message: 'Isolate was disposed during execution due to memory limit' });
  assert.equal(kept.isDisposed, true);
  push.release();
  // Later isolates work.
  const after = new ivm.Isolate({ memoryLimit: 8 });
  assert.equal(after.createContextSync().evalSync('1 + 1'), 2);
  after.dispose();
});

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
  assert.equal(nestedGrowth(`
    const sab = new SharedArrayBuffer(4096);
    ctx.global.setSync('a', sab, { copy: true });
    ctx.global.setSync('b', sab, { copy: true });
  `), 8192);
});

test('the charge for SharedArrayBuffers ends when the guest collects them (node --expose-gc)', () => {
  const out = withGc(`
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
  `);
  assert.equal(out, '131072 0');
});
