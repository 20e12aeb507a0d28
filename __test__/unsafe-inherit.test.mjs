// `new Reference(value, { unsafeInherit: true })` (SPEC §1.2, §2.2, §2.8): `get` walks the
// prototype chain, and References it returns are "deep" (they inherit the flag).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

class Base {
  get viaGetter() { return this.own * 10; }
  method() { return 'm'; }
}
class Child extends Base {
  constructor() { super(); this.own = 4; this.inner = new Child2(); }
}
class Child2 extends Base {}

test('host values: inherited properties only with unsafeInherit', () => {
  const inheriting = new ivm.Reference(new Child(), { unsafeInherit: true });
  const plain = new ivm.Reference(new Child());
  assert.equal(plain.getSync('method'), undefined, 'own properties only by default');
  assert.equal(typeof inheriting.getSync('method'), 'function');
  assert.equal(inheriting.getSync('method')(), 'm', 'a host function comes back as itself');
  assert.throws(() => inheriting.getSync('viaGetter'), { message: 'Property is getter' });
  assert.equal(inheriting.getSync('viaGetter', { accessors: true }), 40, 'getters run on the original object');
  assert.equal(inheriting.getSync('missing'), undefined);
  const deep = inheriting.getSync('inner');
  assert.ok(deep instanceof ivm.Reference);
  assert.equal(typeof deep.getSync('method'), 'function', 'References returned by get are deep');
  assert.equal(plain.getSync('inner').getSync('method'), undefined);
  assert.throws(() => new ivm.Reference(1, 2), { name: 'TypeError' });
});

test('host values with unsafeInherit, used from a guest', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('h', new ivm.Reference(new Child(), { unsafeInherit: true }));
  context.global.setSync('p', new ivm.Reference(new Child()));
  assert.equal(context.evalSync('typeof h.getSync("method") + ":" + typeof p.getSync("method")'), 'function:undefined');
  assert.equal(context.evalSync('typeof h.getSync("inner").getSync("method")'), 'function');
  isolate.dispose();
});

test('guest values: unsafeInherit inside the guest, on the host and deep', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  context.evalSync(`class B { m() { return 1 } get g() { return this.v } }
    globalThis.o = new (class extends B { constructor() { super(); this.v = 2; this.kid = new B() } })();
    globalThis.inh = new ivm.Reference(o, { unsafeInherit: true });
    globalThis.pl = new ivm.Reference(o);`);
  assert.equal(context.evalSync('typeof inh.getSync("m") + ":" + typeof pl.getSync("m") + ":" + inh.getSync("g", { accessors: true })'), 'function:undefined:2');
  assert.equal(context.evalSync('try { new ivm.Reference(1, 2) } catch (e) { e.message }'), '`Reference` requires parameter 2 to be an object');
  const inh = context.evalSync('inh');
  const pl = context.evalSync('pl');
  assert.equal(typeof inh.getSync('m'), 'function', 'the flag travels with the Reference');
  assert.equal(pl.getSync('m'), undefined);
  assert.equal(typeof inh.getSync('kid').getSync('m'), 'function', 'deep');
  assert.equal(pl.getSync('kid').getSync('m'), undefined);
  assert.throws(() => inh.getSync('g'), { message: 'Property is getter' });
  isolate.dispose();
});
