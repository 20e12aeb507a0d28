// Timeouts, memory limits and disposal while running (SPEC §2.4, §2.5, §2.10, §2.11).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const timedOut = { name: 'Error', message: 'Script execution timed out.' };

test('timeout stops every loop shape and the isolate stays usable', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const loops = [
    'while (true) {}',
    'for (;;) { Math.random() }',
    'function f() { try { f() } catch { f() } } f()',
    'function m() { Promise.resolve().then(m) } m(); 1',
    '(async () => { while (true) await null })(); 1',
    'try { while (true) {} } finally { while (true) {} }',
  ];
  for (const code of loops) {
    assert.throws(() => context.evalSync(code, { timeout: 30 }), timedOut, code);
    assert.equal(context.evalSync('1 + 1'), 2, `usable after: ${code}`);
  }
  await assert.rejects(context.eval('while (true) {}', { timeout: 30 }), timedOut);
  const script = isolate.compileScriptSync('while (true) {}');
  assert.throws(() => script.runSync(context, { timeout: 20 }), timedOut);
  await assert.rejects(script.run(context, { timeout: 20 }), timedOut);
  assert.throws(() => context.evalClosureSync('while (true) {}', [], { timeout: 20 }), timedOut);
  assert.equal(await context.eval('"still alive"'), 'still alive');
  isolate.dispose();
});

test('a timeout that does not fire leaves later calls alone', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  // Timeouts are wall-clock (as in isolated-vm): 50 ms, so that a trivial call on a loaded
  // machine does not hit it (1 ms did, when the thread was descheduled); then wait past them.
  for (let i = 0; i < 50; i++) assert.equal(context.evalSync(String(i), { timeout: 50 }), i);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(context.evalSync('let s = 0; for (let i = 0; i < 1e6; i++) s += i; s'), 499999500000);
  isolate.dispose();
});

test('memory limit: heap growth disposes the isolate without killing Node', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  const context = isolate.createContextSync();
  assert.throws(() => context.evalSync('const a = []; while (true) a.push({ x: Math.random(), y: [1, 2, 3] })'),
    { name: 'Error', message: 'Isolate was disposed during execution due to memory limit' });
  assert.equal(isolate.isDisposed, true);
  await assert.rejects(context.eval('1'), { message: 'Isolate is disposed' });

  const other = new ivm.Isolate({ memoryLimit: 16 });
  const ctx = await other.createContext();
  await assert.rejects(ctx.eval('let s = "x"; const keep = []; while (true) keep.push(s += s.length)'),
    { message: 'Isolate was disposed during execution due to memory limit' });
  assert.equal(other.isDisposed, true);
});

test('memory limit: one huge allocation in flight does not abort the process (#107, #527)', () => {
  for (const code of ['[..."x".repeat(2 ** 27)]', 'new Array(2 ** 27).fill(1.5)']) {
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    const context = isolate.createContextSync();
    assert.throws(() => context.evalSync(code), { message: 'Isolate was disposed during execution due to memory limit' }, code);
    assert.equal(isolate.isDisposed, true);
  }
});

test('memory limit: an oversized ArrayBuffer is a catchable RangeError', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = isolate.createContextSync();
  assert.equal(context.evalSync('try { new ArrayBuffer(64 * 1024 * 1024); "no" } catch (e) { e.constructor.name + ": " + e.message }'),
    'RangeError: Array buffer allocation failed');
  assert.throws(() => context.evalSync('new ArrayBuffer(64 * 1024 * 1024)'), { name: 'RangeError', message: 'Array buffer allocation failed' });
  assert.equal(context.evalSync('new ArrayBuffer(1024).byteLength'), 1024, 'the isolate survives');
  assert.equal(isolate.isDisposed, false);
  assert.throws(() => context.global.setSync('big', new ArrayBuffer(64 * 1024 * 1024), { copy: true }), { name: 'RangeError' });
  isolate.dispose();
});

test('dispose during execution and with queued work', async () => {
  const isolate = new ivm.Isolate();
  const context = await isolate.createContext();
  const running = context.eval('while (true) {}');
  const queued = context.eval('1');
  const ignored = context.evalIgnored('2');
  assert.equal(ignored, undefined);
  setTimeout(() => isolate.dispose(), 30);
  await assert.rejects(running, { message: 'Isolate was disposed during execution' });
  await assert.rejects(queued, { message: 'Isolate is disposed' });
});

test('dispose from inside a host call the guest is waiting on: no hang, SPEC errors', { timeout: 30_000 }, async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('kill', () => { isolate.dispose(); return 1; });
  assert.throws(() => context.evalSync('kill()'), { message: 'Isolate was disposed during execution' });
  assert.equal(isolate.isDisposed, true);
  const other = new ivm.Isolate();
  const ctx = other.createContextSync();
  ctx.global.setSync('kill', () => { other.dispose(); return 1; });
  await assert.rejects(ctx.eval('kill()'), { message: 'Isolate was disposed during execution' });
});

test('async calls run strictly in the order queued', async () => {
  const isolate = new ivm.Isolate();
  const context = await isolate.createContext();
  const results = [];
  const pending = [];
  for (let i = 0; i < 5; i++) pending.push(context.eval('globalThis.n = (globalThis.n || 0) + 1').then((v) => results.push(v)));
  context.evalIgnored('globalThis.n *= 10');
  context.global.setIgnored('m', 7);
  assert.equal(await context.eval('n + ":" + m'), '50:7');
  await Promise.all(pending);
  assert.deepEqual(results, [1, 2, 3, 4, 5]);
  isolate.dispose();
});

test('many isolates in parallel do not interfere', async () => {
  const isolates = Array.from({ length: 8 }, () => new ivm.Isolate({ memoryLimit: 16 }));
  const results = await Promise.all(isolates.map(async (iso, i) => {
    const ctx = await iso.createContext();
    return ctx.eval(`let s = 0; for (let j = 0; j < 1e5; j++) s += ${i}; s`);
  }));
  assert.deepEqual(results, isolates.map((_, i) => i * 1e5));
  for (const iso of isolates) iso.dispose();
});
