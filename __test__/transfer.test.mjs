// Transfer rules for primitives, per-call-site fallbacks and `copy: true` (SPEC §2.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';
import { spawnSync } from 'node:child_process';

const isolate = new ivm.Isolate();
const context = isolate.createContextSync();
test.after(() => isolate.dispose());

test('primitives keep their exact value', () => {
  assert.equal(context.evalSync('0xdeadbeef'), 3735928559);
  assert.equal(context.evalSync('-0x80000000'), -2147483648);
  assert.ok(Object.is(context.evalSync('-0'), -0));
  assert.ok(Number.isNaN(context.evalSync('NaN')));
  assert.equal(context.evalSync('-Infinity'), -Infinity);
  assert.equal(context.evalSync('2n ** 100n'), 2n ** 100n);
  assert.equal(context.evalSync('-(2n ** 70n)'), -(2n ** 70n));
  assert.equal(context.evalSync('0n'), 0n);
  assert.equal(context.evalSync('"héllo € 😀"'), 'héllo € 😀');
  assert.equal(context.evalSync('"\\ud800"'), '\ud800', 'lone surrogates survive');
  assert.equal(context.evalSync('null'), null);
  assert.equal(context.evalSync('undefined'), undefined);
  assert.equal(context.evalSync('true'), true);
  assert.equal(context.evalClosureSync('return [typeof $0, $0]', [2n ** 64n], { result: { copy: true } })[1], 2n ** 64n);
  const long = 'x'.repeat(1 << 20);
  assert.equal(context.evalClosureSync('return $0.length', [long]), long.length);
});

test('eval/run fallback: anything non-primitive is undefined', () => {
  for (const code of ['({a: 1})', 'Symbol()', 'new Date()', '[1]', 'Promise.resolve(1)']) {
    assert.equal(context.evalSync(code), undefined, code);
  }
});

test('functions leave an isolate as callable functions (SPEC §2.2 rule 2)', () => {
  const f = context.evalSync('(function twice(x) { return x * 2 })');
  assert.equal(typeof f, 'function');
  assert.equal(f.name, 'twice');
  assert.equal(f.length, 1);
  assert.equal(f(21), 42);
  context.evalSync('globalThis.mk = () => ({ list: [1, 2] })');
  assert.deepEqual(context.global.getSync('mk')(), { list: [1, 2] }, 'results are copied');
  assert.throws(() => f(() => 1), { name: 'TypeError', message: '() => 1 could not be cloned.' });
});

test('copy: true clones structures both ways', () => {
  const value = {
    n: 1, s: 'two', b: true, nil: null, big: 3n, arr: [1, , 3], date: new Date(5), re: /x+/gi,
    map: new Map([[1, { a: 1 }], ['k', [2]]]), set: new Set([1, 'a']),
    boxed: [Object(1), Object('s'), Object(false), Object(4n)],
    nested: { deep: { deeper: [{}] } }, proto: JSON.parse('{"__proto__": {"polluted": true}}'),
  };
  context.global.setSync('v', value, { copy: true });
  const back = context.evalSync('v', { copy: true });
  assert.deepEqual(back, value);
  assert.equal(Object.getPrototypeOf(back.proto), Object.prototype);
  assert.equal(context.evalSync('1 in v.arr'), false, 'holes stay holes');
  assert.equal(context.evalSync('v.re.flags + v.map.get(1).a + v.set.has("a")'), 'gi1true');
});

test('copy keeps cycles and shared references', () => {
  const shared = { x: 1 };
  const cyclic = { shared, again: shared };
  cyclic.self = cyclic;
  context.global.setSync('c', cyclic, { copy: true });
  assert.equal(context.evalSync('c.self === c && c.shared === c.again'), true);
  const back = context.evalSync('c', { copy: true });
  assert.equal(back.self, back);
  assert.equal(back.shared, back.again);
});

test('copy of binary data keeps type, offset and length', () => {
  const buf = new ArrayBuffer(16);
  new Uint8Array(buf).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  const views = { u8: new Uint8Array(buf, 4, 4), f64: new Float64Array(buf, 8, 1), dv: new DataView(buf, 2, 3), buf,
    i16: new Int16Array([-1, 2]), big: new BigInt64Array([-5n]), clamped: new Uint8ClampedArray([300]) };
  context.global.setSync('bin', views, { copy: true });
  assert.equal(context.evalSync('bin.u8.buffer === bin.buf && bin.u8.byteOffset + ":" + bin.u8.length + ":" + bin.u8[0]'), '4:4:5');
  assert.equal(context.evalSync('bin.dv.constructor.name + bin.dv.byteOffset + bin.dv.byteLength'), 'DataView23');
  const back = context.evalSync('bin', { copy: true });
  assert.deepEqual(back, views);
  assert.ok(back.i16 instanceof Int16Array);
  assert.equal(back.u8.buffer, back.buf);
  assert.deepEqual([...context.evalSync('new Float32Array([0.5, 1.5])', { copy: true })], [0.5, 1.5]);
});

test('copy of errors keeps the five constructors and the name of others', () => {
  const errors = context.evalSync('[new RangeError("r"), new URIError("u"), new TypeError("t")]', { copy: true });
  assert.ok(errors[0] instanceof RangeError);
  assert.equal(errors[0].message, 'r');
  assert.equal(errors[1].constructor, Error);
  assert.equal(errors[1].name, 'URIError');
  assert.ok(errors[2] instanceof TypeError);
  context.global.setSync('e', new SyntaxError('s'), { copy: true });
  assert.equal(context.evalSync('e instanceof SyntaxError && e.message'), 's');
});

test('class instances arrive as plain objects; getters are evaluated', () => {
  class Point { constructor() { this.x = 1; } get y() { return 2; } }
  const back = context.evalClosureSync('return $0', [new Point()], { arguments: { copy: true }, result: { copy: true } });
  assert.deepEqual(back, { x: 1 });
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  const g = context.evalSync('({ get a() { return 5; } })', { copy: true });
  assert.deepEqual(g, { a: 5 });
});

// Compiled WebAssembly cannot cross between Node's V8 and the isolates' own V8 (nor, by copy,
// between isolates): every path fails with a clone error instead of delivering an empty object
// (as it did) or a corrupt copy.
test('a WebAssembly.Module is not cloneable between Node and isolates, on every path', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const bytes = [0, 97, 115, 109, 1, 0, 0, 0];
  const module = new WebAssembly.Module(new Uint8Array(bytes));
  const error = { name: 'TypeError', message: '#<WebAssembly.Module> could not be cloned.' };
  assert.throws(() => context.global.setSync('m', module, { copy: true }), error);
  assert.throws(() => context.global.setSync('m', { a: module }, { copy: true }), error);
  assert.throws(() => new ivm.ExternalCopy(module), error);
  assert.throws(() => context.evalSync(`new WebAssembly.Module(new Uint8Array([${bytes}]))`, { copy: true }), error);
  assert.throws(() => context.evalSync(`({ a: new WebAssembly.Module(new Uint8Array([${bytes}])) })`, { copy: true }), error);
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync(`const inner = new ivm.Isolate().createContextSync();
    try { inner.global.setSync('m', new WebAssembly.Module(new Uint8Array([${bytes}])), { copy: true }); 'copied' } catch (e) { e.constructor.name + ': ' + e.message }`),
  'TypeError: #<WebAssembly.Module> could not be cloned.');
  isolate.dispose();
});

test('copies work where Node runs without WebAssembly (--jitless)', () => {
  const script = `const ivm = require('isolated-vm-rs');
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    context.global.setSync('x', { a: [1] }, { copy: true });
    console.log(context.evalSync('JSON.stringify(x)') + ' ' + JSON.stringify(new ivm.ExternalCopy({ b: 2 }).copy()) + ' ' + typeof WebAssembly);`;
  const r = spawnSync(process.execPath, ['--jitless', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '{"a":[1]} {"b":2} undefined');
});

test('clone errors name the offending value', () => {
  const cases = [
    ['(() => 1)', '() => 1 could not be cloned.'],
    ['({ f: () => 1 })', '() => 1 could not be cloned.'],
    ['Symbol()', 'Symbol() could not be cloned.'],
    ['Promise.resolve()', '#<Promise> could not be cloned.'],
    ['new WeakMap()', '#<WeakMap> could not be cloned.'],
    ['new Proxy({}, {})', '#<Object> could not be cloned.'],
  ];
  for (const [code, message] of cases) {
    assert.throws(() => context.evalSync(code, { copy: true }), { name: 'TypeError', message }, code);
  }
  const host = [
    [() => 1, '() => 1 could not be cloned.'],
    [{ f: () => 1 }, '() => 1 could not be cloned.'],
    [Symbol(), 'Symbol() could not be cloned.'],
    [Promise.resolve(), '#<Promise> could not be cloned.'],
    [new WeakMap(), '#<WeakMap> could not be cloned.'],
    [new Proxy({}, {}), '#<Object> could not be cloned.'],
  ];
  for (const [value, message] of host) {
    assert.throws(() => context.global.setSync('bad', value, { copy: true }), { name: 'TypeError', message }, message);
  }
});

test('hostile structures: huge sparse arrays, deep nesting, throwing getters', () => {
  const sparse = [];
  sparse[1e9] = 1;
  context.global.setSync('sp', sparse, { copy: true });
  assert.equal(context.evalSync('sp.length + ":" + sp[1e9] + ":" + Object.keys(sp).length'), '1000000001:1:1');
  assert.equal(context.evalSync('const a = []; a[4e9] = 2; a', { copy: true })[4e9], 2);
  const throwing = { get boom() { throw new RangeError('getter'); } };
  assert.throws(() => context.global.setSync('t', throwing, { copy: true }), { name: 'RangeError', message: 'getter' });
  assert.throws(() => context.evalSync('({ get boom() { throw new RangeError("inside"); } })', { copy: true }),
    { name: 'RangeError', message: 'inside' });
  let deep = {};
  for (let i = 0; i < 500; i++) deep = { deep };
  context.global.setSync('deep', deep, { copy: true });
  assert.equal(context.evalSync('let d = deep, n = 0; while (d.deep) { d = d.deep; n++ } n'), 500);
  assert.equal(context.evalSync('let g = {}; for (let i = 0; i < 1500; i++) g = { g }; g', { copy: true }).g.g.g !== undefined, true);
  // Absurd nesting is a RangeError in both directions, never a crash.
  let absurd = {};
  for (let i = 0; i < 100000; i++) absurd = { absurd };
  assert.throws(() => context.global.setSync('absurd', absurd, { copy: true }), { name: 'RangeError' });
  assert.throws(() => context.evalSync('let h = {}; for (let i = 0; i < 100000; i++) h = { h }; h', { copy: true }),
    { name: 'RangeError', message: 'Maximum call stack size exceeded' });
  assert.equal(context.evalSync('"alive"'), 'alive');
});

test('symbols keys are skipped, non-enumerable properties too', () => {
  const o = { a: 1, [Symbol('s')]: 2 };
  Object.defineProperty(o, 'hidden', { value: 3, enumerable: false });
  context.global.setSync('o', o, { copy: true });
  assert.equal(context.evalSync('Object.getOwnPropertyNames(o).join() + Object.getOwnPropertySymbols(o).length'), 'a0');
});
