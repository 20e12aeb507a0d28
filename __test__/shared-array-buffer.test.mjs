// SharedArrayBuffers stay shared (SPEC §2.2): the same memory on the host and in every isolate
// that receives one, through copies and ExternalCopy; typed arrays over them keep their type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

test('a host SharedArrayBuffer is the same memory inside a guest', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const sab = new SharedArrayBuffer(16);
  const host = new Int32Array(sab);
  context.global.setSync('shared', { sab, view: new Int32Array(sab, 4, 2) }, { copy: true });
  context.evalSync('Atomics.store(new Int32Array(shared.sab), 0, 42); shared.view[0] = 7;');
  assert.equal(host[0], 42, 'a guest write is seen by the host');
  assert.equal(host[1], 7, 'through the view too');
  assert.equal(context.evalSync('(shared.sab instanceof SharedArrayBuffer) + ":" + (shared.view instanceof Int32Array) + ":" + shared.view.byteOffset + ":" + shared.view.length'), 'true:true:4:2');
  host[2] = 99;
  assert.equal(context.evalSync('new Int32Array(shared.sab)[2]'), 99, 'a host write is seen by the guest');
  const back = context.evalSync('shared', { copy: true });
  assert.equal(back.sab, sab, 'back on the host it is the original object');
  assert.equal(back.view.buffer, sab);
  assert.equal(back.view[0], 7);
  isolate.dispose();
  assert.equal(host[0], 42, 'the memory outlives the isolate');
});

test('ExternalCopy of a SharedArrayBuffer shares it', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const sab = new SharedArrayBuffer(8);
  const copy = new ivm.ExternalCopy(sab);
  assert.equal(copy.copy(), sab);
  context.global.setSync('s', copy.copyInto());
  context.evalSync('new Uint8Array(s)[3] = 5');
  assert.equal(new Uint8Array(sab)[3], 5);
  isolate.dispose();
});

test('a guest SharedArrayBuffer shared with another isolate', () => {
  const a = new ivm.Isolate();
  const b = new ivm.Isolate();
  const ca = a.createContextSync();
  const cb = b.createContextSync();
  ca.global.setSync('ivm', ivm);
  const copy = ca.evalSync('globalThis.g = new SharedArrayBuffer(8); new ivm.ExternalCopy(g)');
  cb.global.setSync('g', copy.copyInto());
  cb.evalSync('new Int32Array(g)[1] = 1234');
  assert.equal(ca.evalSync('new Int32Array(g)[1]'), 1234, 'B writes what A reads');
  a.dispose();
  assert.equal(cb.evalSync('new Int32Array(g)[1]'), 1234, 'the memory outlives the isolate that made it');
  b.dispose();
});

test('a SharedArrayBuffer made in an isolate cannot be shared with Node', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.throws(() => context.evalSync('({ s: new SharedArrayBuffer(8) })', { copy: true }), {
    name: 'TypeError',
    message: 'A SharedArrayBuffer created inside an isolate cannot be shared with Node.js (Node-API cannot wrap foreign shared memory)',
  });
  isolate.dispose();
});
