// The module shape: require, default import and named imports give the same classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import ivm, { Isolate, Context, Script, Reference } from 'isolated-vm-rs';

const require = createRequire(import.meta.url);

test('require, default import and named imports agree', () => {
  const cjs = require('isolated-vm-rs');
  assert.equal(cjs, ivm);
  assert.equal(Isolate, ivm.Isolate);
  assert.equal(Context, ivm.Context);
  assert.equal(Script, ivm.Script);
  assert.equal(Reference, ivm.Reference);
  const isolate = new Isolate();
  assert.equal(isolate.createContextSync().evalSync('"esm"'), 'esm');
  isolate.dispose();
});

test('NativeModule exists and fails clearly', () => {
  assert.throws(() => new ivm.NativeModule('/tmp/x.node'), /not supported by isolated-vm-rs/);
  assert.throws(() => ivm.NativeModule('/tmp/x.node'), { name: 'TypeError', message: '`NativeModule` must be called with `new`' });
});

test('APIs not implemented yet are there and fail with an Error that says so', async () => {
  assert.throws(() => ivm.Isolate.createSnapshot([{ code: '1' }]), { name: 'Error', message: '`Isolate.createSnapshot` is not implemented yet in isolated-vm-rs' });
  const isolate = new ivm.Isolate();
  assert.throws(() => isolate.createInspectorSession(), { name: 'Error', message: '`isolate.createInspectorSession` is not implemented yet in isolated-vm-rs' });
  assert.throws(() => isolate.startCpuProfiler('p'), { name: 'Error', message: '`isolate.startCpuProfiler` is not implemented yet in isolated-vm-rs' });
  await assert.rejects(isolate.stopCpuProfiler('p'), { name: 'Error', message: '`isolate.stopCpuProfiler` is not implemented yet in isolated-vm-rs' });
  // The same inside a guest, on the isolates it creates.
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  assert.deepEqual(await context.eval(`(async () => {
    const inner = new ivm.Isolate();
    const out = [];
    for (const f of [() => ivm.Isolate.createSnapshot([]), () => inner.createInspectorSession(), () => inner.startCpuProfiler('p')]) {
      try { f(); out.push('no throw') } catch (e) { out.push(e.constructor.name + ': ' + e.message) }
    }
    out.push(await inner.stopCpuProfiler('p').then(() => 'resolved', (e) => 'rejected: ' + e.message));
    inner.dispose();
    return out;
  })()`, { promise: true, copy: true }), [
    'Error: `Isolate.createSnapshot` is not implemented yet in isolated-vm-rs',
    'Error: `isolate.createInspectorSession` is not implemented yet in isolated-vm-rs',
    'Error: `isolate.startCpuProfiler` is not implemented yet in isolated-vm-rs',
    'rejected: `isolate.stopCpuProfiler` is not implemented yet in isolated-vm-rs',
  ]);
  isolate.dispose();
});

test('constructors check their argument count first, with isolated-vm\'s text, on both faces', () => {
  for (const C of ['Reference', 'ExternalCopy', 'Callback']) {
    assert.throws(() => new ivm[C](), { name: 'TypeError', message: `\`${C}\` requires at least 1 parameter` });
  }
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync(`['Reference', 'ExternalCopy', 'Callback'].map((C) => { try { new ivm[C](); return 'made' } catch (e) { return e.constructor.name + ': ' + e.message } }).join('|')`),
    'TypeError: `Reference` requires at least 1 parameter|TypeError: `ExternalCopy` requires at least 1 parameter|TypeError: `Callback` requires at least 1 parameter');
  isolate.dispose();
});

test('every name index.d.ts declares is importable', async () => {
  const mod = await import('isolated-vm-rs');
  for (const name of ['Isolate', 'Context', 'Script', 'Reference', 'NativeModule', 'ExternalCopy', 'Callback', 'Module', 'lib', 'default']) {
    assert.ok(name in mod, name);
  }
});

test('named Reference constructs References to host values', () => {
  assert.equal(new Reference({}).typeof, 'object');
  assert.throws(() => Reference({}), { message: '`Reference` must be called with `new`' });
});
