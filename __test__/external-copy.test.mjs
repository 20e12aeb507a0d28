// ExternalCopy: copies outside every heap, copyInto() tokens, externalCopy transfer (SPEC §1.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const value = { rows: [{ id: 1, name: 'Alice' }], count: 1, when: new Date(3), tags: new Set(['a']) };

test('copy() materialises an independent copy every time', () => {
  const copy = new ivm.ExternalCopy(value);
  const a = copy.copy();
  const b = copy.copy();
  assert.deepEqual(a, value);
  assert.notEqual(a, b);
  a.rows.push(1);
  assert.equal(copy.copy().rows.length, 1);
  assert.equal(new ivm.ExternalCopy(5).copy(), 5);
  assert.equal(new ivm.ExternalCopy('s').copy(), 's');
});

test('copyInto() tokens become a copy in the isolate, once', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const copy = new ivm.ExternalCopy(value);
  const token = copy.copyInto();
  context.global.setSync('data', token);
  assert.equal(context.evalSync('data.rows[0].name + data.count + data.tags.has("a")'), 'Alice1true');
  assert.throws(() => context.global.setSync('again', token), { name: 'Error', message: 'The return value of `copyInto()` should only be used once' });
  assert.deepEqual(context.evalClosureSync('return $0', [copy.copyInto()], { result: { copy: true } }), value);
  context.global.setSync('nested', { inner: copy.copyInto() }, { copy: true });
  assert.equal(context.evalSync('nested.inner.rows[0].id'), 1);
  const Token = Object.getPrototypeOf(copy.copyInto()).constructor;
  assert.throws(() => new Token(), { name: 'TypeError', message: '`ExternalCopyInto` constructor is private' });
  isolate.dispose();
});

test('externalCopy: true results arrive as ExternalCopy', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const result = context.evalSync('({ list: [1, 2, { deep: true }] })', { externalCopy: true });
  assert.ok(result instanceof ivm.ExternalCopy);
  assert.deepEqual(result.copy(), { list: [1, 2, { deep: true }] });
  assert.ok(context.global.getSync('Math', { externalCopy: true }) instanceof ivm.ExternalCopy);
  isolate.dispose();
});

test('release, { release: true }, and errors', () => {
  const copy = new ivm.ExternalCopy({ a: 1 });
  assert.deepEqual(copy.copy({ release: true }), { a: 1 });
  assert.throws(() => copy.copy(), { name: 'Error', message: 'Copy has been released' });
  assert.throws(() => copy.release(), { message: 'Copy has been released' });
  const other = new ivm.ExternalCopy(1);
  other.copyInto({ release: true });
  assert.throws(() => other.copyInto(), { message: 'Copy has been released' });
  assert.throws(() => new ivm.ExternalCopy(Symbol('s')), { name: 'TypeError', message: 'Unsupported type' });
  assert.throws(() => new ivm.ExternalCopy(() => 1), { name: 'TypeError', message: '() => 1 could not be cloned.' });
  assert.throws(() => new ivm.ExternalCopy(1, { transferList: [1] }), { name: 'TypeError', message: 'Non-ArrayBuffer passed in `transferList`' });
  assert.throws(() => ivm.ExternalCopy(1), { name: 'TypeError', message: '`ExternalCopy` must be called with `new`' });
  assert.equal(ivm.ExternalCopy.length, 2);
});

test('transferList and transferOut detach the source buffers', () => {
  const out = new ArrayBuffer(16);
  new Uint8Array(out)[0] = 7;
  const copy = new ivm.ExternalCopy(out, { transferOut: true });
  assert.equal(out.byteLength, 0);
  assert.equal(new Uint8Array(copy.copy())[0], 7);
  const listed = new ArrayBuffer(4);
  const view = new Uint8Array(listed);
  view[1] = 9;
  const c2 = new ivm.ExternalCopy({ view }, { transferList: [listed] });
  assert.equal(listed.byteLength, 0);
  assert.equal(c2.copy().view[1], 9);
});

test('totalExternalSize counts live copies', () => {
  const before = ivm.ExternalCopy.totalExternalSize;
  assert.equal(typeof before, 'number');
  const big = new ivm.ExternalCopy(new ArrayBuffer(4 * 1024 * 1024));
  assert.ok(ivm.ExternalCopy.totalExternalSize >= before + 4 * 1024 * 1024);
  big.release();
  assert.ok(ivm.ExternalCopy.totalExternalSize < before + 4 * 1024 * 1024);
});

test('ExternalCopy instances cross into guests and back', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const copy = new ivm.ExternalCopy({ rows: [1, 2, 3] });
  context.global.setSync('ec', copy);
  assert.equal(context.evalSync('ec.constructor.name + ":" + JSON.stringify(ec.copy()) + ":" + (ec.copy() !== ec.copy())'),
    'ExternalCopy:{"rows":[1,2,3]}:true');
  const back = context.evalSync('ec');
  assert.ok(back instanceof ivm.ExternalCopy);
  assert.deepEqual(back.copy(), { rows: [1, 2, 3] });
  context.global.setSync('fn', new ivm.Reference((e) => e.copy().rows.length));
  assert.equal(context.evalSync('fn.applySync(undefined, [ec])'), 3, 'guest ExternalCopy as an argument to a host call');
  context.evalSync('ec.release()');
  assert.throws(() => context.evalSync('ec.copy()'), { message: 'Copy has been released' });
  assert.deepEqual(copy.copy(), { rows: [1, 2, 3] }, 'releasing one handle leaves the others');
  const big = new ivm.ExternalCopy(new ArrayBuffer(64 * 1024 * 1024));
  const small = new ivm.Isolate({ memoryLimit: 16 });
  const ctx2 = small.createContextSync();
  ctx2.global.setSync('big', big);
  assert.equal(ctx2.evalSync('try { big.copy(); "copied" } catch (e) { e.name + ": " + e.message }'),
    'RangeError: Array buffer allocation failed', 'copies count against the receiving isolate\'s limit');
  small.dispose();
  isolate.dispose();
});

test('copy({ transferIn: true }) spends an ArrayBuffer copy: later use is "Array buffer is invalid"', () => {
  const buf = new Uint8Array([1, 2, 3]).buffer;
  const copy = new ivm.ExternalCopy(buf);
  const token = copy.copyInto();
  assert.deepEqual([...new Uint8Array(copy.copy({ transferIn: true }))], [1, 2, 3]);
  assert.throws(() => copy.copy(), { name: 'Error', message: 'Array buffer is invalid' });
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.throws(() => context.global.setSync('t', token), { message: 'Array buffer is invalid' });
  const inGuest = new ivm.ExternalCopy(new Uint8Array([4]).buffer);
  context.global.setSync('ec', inGuest);
  assert.equal(context.evalSync('new Uint8Array(ec.copy({ transferIn: true }))[0]'), 4);
  assert.equal(context.evalSync('try { ec.copy(); "no" } catch (e) { e.message }'), 'Array buffer is invalid');
  const plain = new ivm.ExternalCopy({ a: 1 });
  assert.deepEqual(plain.copy({ transferIn: true }), { a: 1 });
  assert.deepEqual(plain.copy(), { a: 1 }, 'only ArrayBuffer copies are spent');
  isolate.dispose();
});

test('big ArrayBuffers copy out as plain, independent, detachable ArrayBuffers', () => {
  for (const size of [64 * 1024 - 1, 64 * 1024, 3 * 1024 * 1024 + 5]) {
    const src = new ArrayBuffer(size);
    const bytes = new Uint8Array(src);
    for (let i = 0; i < size; i += 997) bytes[i] = (i % 250) + 1;
    bytes[size - 1] = 7;
    const copy = new ivm.ExternalCopy(src);
    const a = copy.copy();
    const b = copy.copy();
    for (const out of [a, b]) {
      assert.equal(Object.getPrototypeOf(out), ArrayBuffer.prototype, `${size}: a plain ArrayBuffer`);
      assert.equal(out.byteLength, size);
      assert.deepEqual(new Uint8Array(out), bytes, `${size}: same bytes`);
    }
    new Uint8Array(a)[0] = 99;
    assert.notEqual(new Uint8Array(b)[0], 99, 'copies do not share memory');
    assert.notEqual(bytes[0], 99, 'the source is untouched');
    const moved = structuredClone(a, { transfer: [a] });
    assert.equal(a.byteLength, 0, 'detached by a transfer');
    assert.equal(moved.byteLength, size);
    const view = new ivm.ExternalCopy(new Uint16Array(src, 2, 10)).copy();
    assert.ok(view instanceof Uint16Array);
    assert.equal(view.buffer.byteLength, size);
    assert.deepEqual([...view], [...new Uint16Array(src, 2, 10)]);
    copy.release();
  }
});

test('huge buffers (own memory mappings, reused after release) never show earlier contents', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = isolate.createContextSync();
  for (const size of [4 * 2 ** 20 - 1, 4 * 2 ** 20, 9 * 2 ** 20 + 7, 5 * 2 ** 20]) {
    for (let round = 0; round < 3; round++) {
      const filled = new Uint8Array(size).fill(0xab);
      const full = new ivm.ExternalCopy(filled.buffer);
      assert.equal(new Uint8Array(full.copy())[size - 1], 0xab);
      full.release();
      const zeros = new ivm.ExternalCopy(new ArrayBuffer(size));
      const out = new Uint8Array(zeros.copy());
      assert.equal(out.length, size);
      assert.equal(out.indexOf(0xab), -1, `${size}: a fresh copy holds only its own (zero) bytes`);
      context.global.setSync('z', zeros.copyInto());
      assert.equal(context.evalSync('new Uint8Array(z).indexOf(0xab)'), -1, 'the same inside a guest');
      zeros.release();
      const back = new Uint8Array(
        context.evalSync(`new Uint8Array(${size}).fill(${round + 1}).buffer`, { copy: true }),
      );
      assert.equal(back.length, size);
      assert.ok(back[0] === round + 1 && back[size - 1] === round + 1, 'a guest result arrives whole');
      assert.equal(back.indexOf(0xab), -1);
    }
  }
  isolate.dispose();
});
