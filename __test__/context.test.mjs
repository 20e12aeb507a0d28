// Context: eval flavours, evalClosure, global Reference, release (SPEC §1.2, §2.2, §2.8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

function setup() {
  const isolate = new ivm.Isolate();
  return { isolate, context: isolate.createContextSync() };
}

test('eval, evalSync and evalIgnored share one context', async () => {
  const { isolate, context } = setup();
  assert.equal(context.evalIgnored('globalThis.a = 1'), undefined);
  assert.equal(context.evalSync('a += 1'), 2);
  assert.equal(await context.eval('a + 1'), 3);
  assert.equal(context.evalSync('typeof require + typeof process + typeof setTimeout'), 'undefinedundefinedundefined');
  assert.equal(context.evalSync('typeof WebAssembly + typeof SharedArrayBuffer'), 'objectfunction');
  isolate.dispose();
});

test('createContext async yields an independent global', async () => {
  const isolate = new ivm.Isolate();
  const a = await isolate.createContext();
  const b = isolate.createContextSync();
  a.evalSync('globalThis.x = 1');
  assert.equal(b.evalSync('typeof x'), 'undefined');
  assert.throws(() => isolate.createContextSync(5), { name: 'TypeError' });
  isolate.dispose();
});

test('evalClosure: $0..$N, this is the global, return allowed', async () => {
  const { isolate, context } = setup();
  assert.equal(context.evalClosureSync('return $0 + $1', [2, 3]), 5);
  assert.equal(context.evalClosureSync('return this === globalThis'), true);
  assert.equal(await context.evalClosure('return $0.length', ['four']), 4);
  assert.equal(context.evalClosureIgnored('globalThis.z = $0', [9]), undefined);
  assert.equal(context.evalSync('z'), 9);
  assert.equal(context.evalClosureSync('return arguments.length', [1, 2, 3]), 3);
  isolate.dispose();
});

test('evalClosure transfer: non-transferable args and results throw; copy options work', () => {
  const { isolate, context } = setup();
  assert.throws(() => context.evalClosureSync('return {}'), { name: 'TypeError', message: 'A non-transferable value was passed' });
  assert.throws(() => context.evalClosureSync('return 1', [{ a: 1 }]), { name: 'TypeError', message: 'A non-transferable value was passed' });
  assert.equal(context.evalClosureSync('return typeof $0', [() => 1]), 'function', 'functions cross as callbacks');
  const out = context.evalClosureSync('$0.list.push($0.list.length); return $0', [{ list: [1, 2] }],
    { arguments: { copy: true }, result: { copy: true } });
  assert.deepEqual(out, { list: [1, 2, 2] });
  assert.throws(() => context.evalClosureSync('return 1', [], { arguments: { copy: true, reference: true } }),
    { name: 'TypeError', message: 'Only one of `copy`, `externalCopy`, or `reference` may be set' });
  const ref = context.evalClosureSync('return { n: 5 }', [], { result: { reference: true } });
  assert.ok(ref instanceof ivm.Reference);
  assert.equal(ref.getSync('n'), 5);
  isolate.dispose();
});

test('global is the same Reference every time and supports get/set/delete/typeof/copy', async () => {
  const { isolate, context } = setup();
  const global = context.global;
  assert.equal(context.global, global);
  assert.ok(global instanceof ivm.Reference);
  assert.equal(global.typeof, 'object');
  global.setSync('answer', 42);
  assert.equal(context.evalSync('answer'), 42);
  assert.equal(global.getSync('answer'), 42);
  assert.equal(await global.get('answer'), 42);
  await global.set('s', 'text');
  assert.equal(context.evalSync('s'), 'text');
  global.setIgnored('i', 1);
  assert.equal(await context.eval('i'), 1);
  global.setSync('obj', { deep: [1, { x: 2 }] }, { copy: true });
  assert.deepEqual(context.evalSync('obj', { copy: true }), { deep: [1, { x: 2 }] });
  assert.equal(global.deleteSync('answer'), undefined, 'isolated-vm 5.0.4 returns undefined');
  assert.equal(context.evalSync('typeof answer'), 'undefined');
  await global.delete('s');
  global.deleteIgnored('i');
  assert.equal(await context.eval('typeof s + typeof i'), 'undefinedundefined');
  const nested = global.getSync('obj');
  assert.ok(nested instanceof ivm.Reference);
  assert.equal(nested.typeof, 'object');
  assert.deepEqual(nested.copySync(), { deep: [1, { x: 2 }] });
  assert.deepEqual(await nested.copy(), { deep: [1, { x: 2 }] });
  assert.deepEqual(global.getSync('obj', { copy: true }), { deep: [1, { x: 2 }] });
  isolate.dispose();
});

test('Reference property rules: own only, getters, setters bypassed, proxies, bad keys', () => {
  const { isolate, context } = setup();
  const global = context.global;
  assert.equal(global.getSync('toString'), undefined, 'inherited properties are not visible');
  context.evalSync(`Object.defineProperty(globalThis, 'g', { get() { return 7; }, configurable: true });
    globalThis.withSetter = {}; let setterHits = 0;
    Object.defineProperty(globalThis.withSetter, 'v', { set(x) { setterHits++; }, configurable: true });
    globalThis.hits = () => setterHits;
    globalThis.frozen = Object.freeze({});
    globalThis.prox = new Proxy({}, {});`);
  assert.throws(() => global.getSync('g'), { name: 'TypeError', message: 'Property is getter' });
  assert.equal(global.getSync('g', { accessors: true }), 7);
  const withSetter = global.getSync('withSetter');
  withSetter.setSync('v', 3);
  assert.equal(context.evalSync('hits() + ":" + withSetter.v'), '0:3');
  assert.throws(() => global.getSync('frozen').setSync('a', 1), { name: 'TypeError', message: 'Set failed' });
  assert.throws(() => global.getSync('prox').getSync('a'), { name: 'TypeError', message: 'Object is or has proxy' });
  assert.throws(() => global.getSync({}), { name: 'TypeError', message: 'Invalid `key`' });
  assert.throws(() => global.getSync(-1), { name: 'TypeError', message: 'Invalid `key`' });
  assert.throws(() => global.getSync(1.5), { name: 'TypeError', message: 'Invalid `key`' });
  context.evalSync('globalThis.arr = [10, 20]');
  assert.equal(global.getSync('arr').getSync(1), 20);
  const primitive = context.evalClosureSync('return 5', [], { result: { reference: true } });
  assert.equal(primitive.typeof, 'number');
  assert.throws(() => primitive.getSync('a'), { name: 'TypeError', message: 'Reference is not an object' });
  assert.equal(context.evalClosureSync('return null', [], { result: { reference: true } }).typeof, 'null');
  const hits = global.getSync('hits');
  assert.equal(typeof hits, 'function', 'functions come back callable (SPEC §2.2 rule 2)');
  assert.equal(hits(), 0);
  assert.throws(() => global.setSync('x', {}), { name: 'TypeError', message: 'A non-transferable value was passed' });
  assert.throws(() => global.deref(), { name: 'TypeError', message: 'Cannot dereference this from current isolate' });
  isolate.dispose();
});

test('release: context and Reference handles', async () => {
  const { isolate, context } = setup();
  const global = context.global;
  const ref = global.getSync('Math');
  assert.equal(ref.release(), undefined);
  assert.throws(() => ref.release(), { message: 'Reference has been released' });
  assert.throws(() => ref.typeof, { message: 'Reference has been released' });
  assert.throws(() => ref.getSync('PI'), { message: 'Reference has been released' });
  assert.equal(context.release(), true);
  assert.equal(context.release(), false);
  assert.equal(context.global, undefined);
  assert.throws(() => global.getSync('Math'), { message: 'Reference has been released' });
  assert.throws(() => context.evalSync('1'), { message: 'Context is released' });
  await assert.rejects(context.eval('1'), { message: 'Context is released' }, 'async methods reject (isolated-vm 5.0.4)');
  isolate.dispose();
});
