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
