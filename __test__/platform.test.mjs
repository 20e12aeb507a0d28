// V8's foreground tasks reach the guest's isolate: WebAssembly compilation and Atomics.waitAsync
// settle inside guests (they never settled before the platform routed V8's tasks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

// The smallest valid module, and one that exports add(a, b).
const EMPTY = '[0,97,115,109,1,0,0,0]';
const ADD = '[0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,3,2,1,0,7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,0,32,1,106,11]';

test('WebAssembly.instantiate and WebAssembly.compile settle in a guest', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = await isolate.createContext();
  assert.equal(
    await context.eval(`WebAssembly.instantiate(new Uint8Array(${EMPTY})).then(r => typeof r.instance)`, { promise: true, timeout: 5000 }),
    'object');
  assert.equal(
    await context.eval(`WebAssembly.compile(new Uint8Array(${EMPTY})).then(m => m instanceof WebAssembly.Module)`, { promise: true }),
    true);
  assert.equal(
    await context.eval(`WebAssembly.instantiate(new Uint8Array(${ADD})).then(r => r.instance.exports.add(40, 2))`, { promise: true }),
    42);
  // The sync flavour with promise: true returns a host promise that settles too.
  assert.equal(await context.evalSync(`WebAssembly.compile(new Uint8Array(${ADD})).then(() => 'compiled')`, { promise: true }), 'compiled');
  await assert.rejects(
    context.eval('WebAssembly.compile(new Uint8Array([1, 2, 3]))', { promise: true }),
    { name: 'CompileError' });
  isolate.dispose();
});

test('an async guest function awaiting WebAssembly works through apply with result.promise', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const fn = context.evalSync(`(async (a, b) => {
    const { instance } = await WebAssembly.instantiate(new Uint8Array(${ADD}));
    return instance.exports.add(a, b);
  })`, { reference: true });
  assert.equal(await fn.apply(undefined, [2, 3], { result: { promise: true } }), 5);
  isolate.dispose();
});

test('Atomics.waitAsync settles in a guest, by notify and by its timeout', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.equal(await context.eval(`
    const a = new Int32Array(new SharedArrayBuffer(16));
    const w = Atomics.waitAsync(a, 0, 0, 30);
    w.async ? w.value : 'not async'`, { promise: true }), 'timed-out');
  assert.equal(await context.eval(`
    const b = new Int32Array(new SharedArrayBuffer(16));
    const w2 = Atomics.waitAsync(b, 0, 0);
    Atomics.notify(b, 0);
    w2.value`, { promise: true }), 'ok');
  isolate.dispose();
});

test('Atomics.waitAsync in one guest is woken by Atomics.notify in another', async () => {
  const a = new ivm.Isolate();
  const b = new ivm.Isolate();
  const ca = a.createContextSync();
  const cb = b.createContextSync();
  const shared = new ivm.ExternalCopy(new SharedArrayBuffer(16));
  ca.global.setSync('shared', shared.copyInto());
  cb.global.setSync('shared', shared.copyInto());
  const waiting = ca.eval('Atomics.waitAsync(new Int32Array(shared), 0, 0, 10000).value', { promise: true });
  let woken = 0;
  for (let i = 0; i < 200 && woken === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
    woken = cb.evalSync('Atomics.notify(new Int32Array(shared), 0)');
  }
  assert.equal(woken, 1);
  assert.equal(await waiting, 'ok');
  a.dispose();
  b.dispose();
});

test('pending platform work does not keep a disposed isolate alive or crash', async () => {
  for (let i = 0; i < 20; i++) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const p = context.eval(`WebAssembly.instantiate(new Uint8Array(${ADD}))
      .then(() => Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000).value)`, { promise: true });
    if (i % 2) await new Promise((r) => setTimeout(r, 1));
    isolate.dispose();
    await assert.rejects(p, (e) => e instanceof Error);
  }
});
