// Hostile input from the host: every entry point gets wrong types, NaN, negative and huge
// numbers, huge strings, released and disposed objects. Each call must either work or throw a
// JS Error (never crash, hang or abort), and the isolate must stay usable afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const weird = [undefined, null, NaN, -1, -0, 1e300, Infinity, -Infinity, 2 ** 53, 1.5, '', 'x', {}, [], () => {},
  Symbol('s'), 10n, true, new Proxy({}, {}), Object.create(null), new Date(NaN), /re/, new ArrayBuffer(8)];

function settles(fn) {
  try {
    const r = fn();
    if (r && typeof r.then === 'function') return r.then(() => 'ok', (e) => { assert.ok(e instanceof Error, String(e)); return 'rejected'; });
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
    return 'threw';
  }
}

test('every method survives weird arguments', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('1');
  const global = context.global;
  const pending = [];
  for (const a of weird) {
    // Factories once per argument (each success creates a live object).
    for (const fn of [() => new ivm.Isolate(a), () => isolate.createContextSync(a), () => isolate.createContext(a)]) {
      const r = settles(fn);
      if (r && r.then) pending.push(r);
    }
    for (const b of [undefined, ...weird]) {
      for (const fn of [
        () => isolate.compileScriptSync(a, b), () => isolate.compileScript(a, b),
        () => context.evalSync(a, b), () => context.eval(a, b), () => context.evalIgnored(a, b),
        () => context.evalClosureSync('return 1', a, b), () => context.evalClosure('return 1', a, b),
        () => context.evalSync('1', { timeout: a }), () => context.evalSync('1', { filename: a, lineOffset: b }),
        () => script.runSync(a, b), () => script.run(context, a), () => script.runSync(context, { timeout: a, copy: b }),
        () => global.getSync(a, b), () => global.get(a, b), () => global.setSync('k', a, b), () => global.setSync(a, 1),
        () => global.setIgnored(a, b), () => global.deleteSync(a), () => global.delete(a),
      ]) {
        const r = settles(fn);
        if (r && r.then) pending.push(r);
      }
    }
  }
  await Promise.all(pending);
  assert.equal(isolate.isDisposed, false);
  assert.equal(context.evalSync('40 + 2'), 42);
  isolate.dispose();
});

test('huge strings in and out', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = isolate.createContextSync();
  const big = 'y'.repeat(16 * 1024 * 1024);
  assert.equal(context.evalClosureSync('return $0.length', [big]), big.length);
  assert.equal(context.evalSync('"z".repeat(8 * 1024 * 1024)').length, 8 * 1024 * 1024);
  const r = settles(() => context.evalSync(`"${'q'.repeat(64 * 1024 * 1024)}"`));
  assert.ok(['ok', 'threw'].includes(r));
  assert.equal(settles(() => context.evalSync('"x".repeat(2 ** 29)')), 'threw');
  if (!isolate.isDisposed) isolate.dispose();
});

test('released and disposed objects give errors, not crashes', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('1');
  const ref = context.global.getSync('Math');
  script.release();
  ref.release();
  context.release();
  assert.throws(() => script.runSync(isolate.createContextSync()), { message: 'Script has been released' });
  assert.throws(() => ref.copySync(), { message: 'Reference has been released' });
  assert.throws(() => context.evalClosureSync('1'), { message: 'Context is released' });
  const other = isolate.createContextSync();
  const otherRef = other.global.getSync('Math');
  isolate.dispose();
  assert.throws(() => otherRef.getSync('PI'), { message: 'Isolated is disposed' });
  await assert.rejects(otherRef.get('PI'), { message: 'Isolate is disposed' });
  assert.equal(otherRef.typeof, 'object');
  assert.throws(() => isolate.compileScriptSync('1'), { message: 'Isolated is disposed' });
  assert.equal(isolate.isDisposed, true);
});

test('calling methods on foreign receivers throws', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.throws(() => ivm.Context.prototype.evalSync.call({}, '1'));
  assert.throws(() => ivm.Isolate.prototype.createContextSync.call(context));
  assert.throws(() => Object.getOwnPropertyDescriptor(ivm.Isolate.prototype, 'isDisposed').get.call({}));
  isolate.dispose();
});
