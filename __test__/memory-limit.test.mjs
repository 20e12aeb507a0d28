// `memoryLimit` means what it means in isolated-vm 5.0.4 (issue 12): the old generation plus
// external memory against the limit, the young generation on top; a full GC before a decision;
// an ArrayBuffer that does not fit is a catchable RangeError and the isolate lives on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const MEMORY = 'Isolate was disposed during execution due to memory limit';

test('a ~480 KB script bundle loads and runs under memoryLimit: 8', () => {
  let src = '';
  for (let i = 0; src.length < 480 * 1024; i++) {
    src += `function f${i}(a, b) { const x = a + b * ${i}; if (x > ${i}) { return [x, "s${i}", { k: x, t: typeof a }]; } return null; }\n`;
  }
  src += 'globalThis.total = 0; for (let i = 0; i < 1000; i++) total += f7(i, 2)?.[0] ?? 0; total';
  const isolate = new ivm.Isolate({ memoryLimit: 8 });
  const context = isolate.createContextSync();
  assert.equal(typeof context.evalSync(src), 'number');
  assert.equal(isolate.isDisposed, false);
  isolate.dispose();
});

test('small objects fill a 32 MB isolate past 32 MB of used heap before it is disposed', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = isolate.createContextSync();
  let peak = 0;
  context.global.setSync('report', () => {
    peak = Math.max(peak, isolate.getHeapStatisticsSync().used_heap_size);
  });
  assert.throws(
    () => context.evalSync('const a = []; for (let i = 0; ; i++) { a.push({ i }); if (i % 20000 === 0) report() }'),
    { message: MEMORY });
  // isolated-vm 5.0.4 disposes at 35–43 MB of used heap; the limit counts the old generation.
  assert.ok(peak > 32 * 1024 * 1024, `disposed at ${(peak / 1048576).toFixed(1)} MB used heap`);
});

test('an ArrayBuffer past the limit is a catchable RangeError and the isolate lives on', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 8 });
  const context = isolate.createContextSync();
  const result = context.evalSync(`
    const keep = [];
    let error;
    try { for (;;) keep.push(new Uint8Array(2 * 1024 * 1024)) } catch (e) { error = e.constructor.name + ': ' + e.message }
    keep.length = 0;
    error`);
  assert.equal(result, 'RangeError: Array buffer allocation failed');
  assert.equal(isolate.isDisposed, false);
  assert.equal(context.evalSync('new Uint8Array(2 * 1024 * 1024).length'), 2 * 1024 * 1024);
  isolate.dispose();
});

test('copies into an isolate: garbage buffers are collected before one is refused', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = isolate.createContextSync();
  const sixteen = new ArrayBuffer(16 * 1024 * 1024);
  for (let i = 0; i < 50; i++) {
    context.global.setSync('buf', new ivm.ExternalCopy(sixteen).copyInto({ release: true }));
  }
  assert.equal(context.evalSync('buf.byteLength'), 16 * 1024 * 1024);
  for (let i = 0; i < 20; i++) {
    context.global.setSync('buf2', new Uint8Array(16 * 1024 * 1024), { copy: true });
  }
  assert.equal(isolate.isDisposed, false);
  isolate.dispose();
});

test('WebAssembly memory counts against the limit: what fits runs, garbage memories are collected, live ones over it dispose', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  const context = isolate.createContextSync();
  // 4 MB of live wasm memory in a 16 MB isolate, and 40 × 4 MB that become garbage.
  assert.equal(context.evalSync(`
    const live = new WebAssembly.Memory({ initial: 64 });
    new Uint8Array(live.buffer).fill(1);
    let sum = 0;
    for (let i = 0; i < 40; i++) {
      const m = new WebAssembly.Memory({ initial: 64 });
      new Uint8Array(m.buffer).fill(2);
      sum += new Uint8Array(m.buffer)[i];
    }
    sum + new Uint8Array(live.buffer)[0]`), 81);
  assert.equal(isolate.isDisposed, false);
  // Live memories past the limit: V8 accounts them as external memory of the isolate.
  assert.throws(() => context.evalSync(`
    const keep = [];
    for (;;) { const m = new WebAssembly.Memory({ initial: 64 }); new Uint8Array(m.buffer).fill(3); keep.push(m) }`),
  { message: MEMORY });
  assert.equal(isolate.isDisposed, true);
});

test('one large heap object that fits under the limit is made, sync and async; one that does not fit ends the call', async () => {
  // V8 maps a young large object at once, whatever its size. What is alive plus the object
  // may take twice the limit (isolated-vm grants any size); 512 MB at a 128 MB limit is refused.
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = isolate.createContextSync();
  assert.equal(context.evalSync("'x'.repeat(48 * 2 ** 20).indexOf('y')"), -1);
  assert.equal(await context.eval("'y'.repeat(48 * 2 ** 20).indexOf('x')"), -1);
  assert.equal(context.evalSync('[...Array(4e6).keys()].length'), 4e6);
  assert.equal(isolate.isDisposed, false);
  assert.throws(() => context.evalSync("'x'.repeat(2 ** 29 - 24).indexOf('y')"), { message: MEMORY });
  assert.equal(isolate.isDisposed, true);
});

test('live data plus one temporary object larger than the limit completes and the isolate lives on, as in isolated-vm', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = isolate.createContextSync();
  const fill = 'globalThis.keep = []; for (let i = 0; i < 15; i++) keep.push(new Array(1 << 17).fill(i + 0.5)); keep.length';
  assert.equal(context.evalSync(fill), 15);
  assert.equal(context.evalSync("'x'.repeat(30e6).indexOf('y')"), -1);
  assert.equal(await context.eval("'y'.repeat(30e6).indexOf('x')"), -1);
  assert.equal(context.evalSync('keep.length'), 15);
  assert.equal(isolate.isDisposed, false);
  isolate.dispose();
});

test('a large ArrayBuffer dropped before a large string is built does not count against it, as in isolated-vm', () => {
  // V8 frees the buffers a full GC found dead only after that GC: the limit waits for one more.
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = isolate.createContextSync();
  const inner = "(() => { const ab = new ArrayBuffer(28e6); new Uint8Array(ab).fill(1); })(); 'x'.repeat(16e6).indexOf('y')";
  assert.equal(context.evalSync(inner), -1);
  const dropped = "let ab2 = new ArrayBuffer(28e6); new Uint8Array(ab2).fill(1); ab2 = null; 'y'.repeat(16e6).indexOf('x')";
  assert.equal(context.evalSync(dropped), -1);
  assert.equal(context.evalSync('1 + 1'), 2);
  isolate.dispose();
});
