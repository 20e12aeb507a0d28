// new ExternalCopy(object) goes through Node's own serialiser (src/api/convert/serialized.rs).
// Every value must come out exactly as the property-by-property clone makes it (which an
// options object selects), on the host and inside an isolate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import ivm from 'isolated-vm-rs';

// A canonical description: types, own keys, values, and which objects are the same object.
const describeSource = `(function describe(root) {
  const seen = new Map();
  const tag = (v) => Object.prototype.toString.call(v);
  function d(v) {
    if (typeof v === 'bigint') return 'n:' + v;
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
    if (typeof v !== 'object' || v === null) return typeof v + ':' + String(v);
    if (seen.has(v)) return '@' + seen.get(v);
    seen.set(v, seen.size);
    const head = tag(v) + '#' + (seen.size - 1);
    if (v instanceof Error) return head + '(' + v.name + ':' + v.message + ')';
    if (v instanceof Date) return head + v.getTime();
    if (v instanceof RegExp) return head + v.source + '/' + v.flags;
    if (v instanceof Map) return head + '{' + [...v].map(([k, x]) => d(k) + '=>' + d(x)).join() + '}';
    if (v instanceof Set) return head + '{' + [...v].map(d).join() + '}';
    if (ArrayBuffer.isView(v)) return head + '(' + v.byteOffset + ',' + v.byteLength + ',' + d(v.buffer) + ')';
    if (v instanceof ArrayBuffer) return head + '[' + new Uint8Array(v).join() + ']';
    if (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer) return head + '[' + new Uint8Array(v).join() + ']';
    if (['[object Number]', '[object String]', '[object Boolean]', '[object BigInt]'].includes(tag(v)) && !Array.isArray(v)) {
      return head + '(' + d(v.valueOf()) + ')' + Object.getPrototypeOf(v).constructor.name;
    }
    const proto = Object.getPrototypeOf(v);
    const kind = Array.isArray(v) ? 'A' + v.length : proto === Object.prototype ? 'O' : 'P:' + (proto && proto.constructor && proto.constructor.name);
    return head + kind + '{' + Object.getOwnPropertyNames(v).filter((k) => k !== 'length' || !Array.isArray(v))
      .map((k) => k + ':' + d(Object.getOwnPropertyDescriptor(v, k).value)).join() + '}';
  }
  return d(root);
})`;
const describe = eval(describeSource);

function corpus() {
  const ref = new ivm.Reference({ r: 1 });
  const sab = new SharedArrayBuffer(8);
  const shared = { s: 1 };
  const cyclic = { name: 'c' };
  cyclic.self = cyclic;
  const ab = new ArrayBuffer(16);
  new Uint8Array(ab).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  const arrayWithProps = [1, 2];
  arrayWithProps.extra = 'x';
  const sparse = [];
  sparse[5] = 'five';
  sparse[1000000] = 'far';
  class Point {
    constructor() {
      this.x = 1;
    }
  }
  const deep = [];
  let at = deep;
  for (let i = 0; i < 500; i++) at = at[0] = [];
  return {
    primitives: [0, -0, 1.5, -(2 ** 31), 2 ** 32, NaN, Infinity, -Infinity, true, false, null, undefined, '', 'ascii', 'é', '€ 😀', '\ud800', 10n, -(2n ** 100n)],
    plain: { a: 1, b: { c: [1, 'two', { three: 3 }] }, 7: 'index', '': 'empty key' },
    proto: JSON.parse('{"__proto__": {"x": 1}, "y": 2}'),
    emptyObjects: { a: {}, b: [{}, {}], c: new Point(), d: Object.create(null) },
    holey: [1, , 3],
    sparse,
    arrayWithProps,
    sharedRefs: { a: shared, b: shared, list: [shared] },
    cyclic,
    dates: [new Date(0), new Date(NaN), new Date(8.64e15)],
    regexps: [/a+b/gimsuy, /x/dv, new RegExp('\\/', '')],
    maps: new Map([[{ k: 1 }, new Set([1, 'a', shared])], ['self', shared]]),
    boxed: [Object(1.5), Object('str'), Object(false), Object(5n)],
    buffers: { ab, u8: new Uint8Array(ab, 4, 8), i16: new Int16Array(ab, 2, 3), f64: new Float64Array(ab, 8, 1), dv: new DataView(ab, 1, 4), other: new BigInt64Array([5n, -5n]), clamped: new Uint8ClampedArray([300 & 255]), f32: new Float32Array([1.5]), u32: new Uint32Array([2 ** 32 - 1]), i8: new Int8Array([-1]), u16: new Uint16Array([65535]), i32: new Int32Array([-7]), bu: new BigUint64Array([7n]) },
    nodeBuffer: { b: Buffer.from('hello') },
    errors: [new Error('plain'), new TypeError('type'), new URIError('u'), new EvalError('e'), new ReferenceError('r'), Object.assign(new SyntaxError('s'), { extra: 1 })],
    classInstance: new Point(),
    deep,
    handles: { ref, again: ref, list: [ref, { ref }], cb: new ivm.Callback(() => 1), copy: new ivm.ExternalCopy([1]) },
    sharedMemory: { sab, view: new Int32Array(sab, 4, 1), again: sab },
    nested: { users: Array.from({ length: 50 }, (_, i) => ({ id: i, name: 'user' + i, tags: ['a', 'b'], score: i * 1.5 })) },
  };
}

test('every kind of value copies exactly as the property-by-property clone', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const guestDescribe = context.evalSync(describeSource, { reference: true });
  for (const [name, value] of Object.entries(corpus())) {
    const fast = new ivm.ExternalCopy(value);
    const slow = new ivm.ExternalCopy(value, { transferList: [] });
    assert.equal(describe(fast.copy()), describe(slow.copy()), `${name} on the host`);
    const inGuest = (c) => guestDescribe.applySync(undefined, [c.copyInto()]);
    assert.equal(inGuest(fast), inGuest(slow), `${name} in an isolate`);
  }
  isolate.dispose();
});

test('getters run once, also when the value holds ivm handles', () => {
  let calls = 0;
  const ref = new ivm.Reference(1);
  const value = { get counted() { calls++; return { n: calls }; }, ref, list: [{}, ref] };
  const copy = new ivm.ExternalCopy(value).copy();
  assert.equal(calls, 1);
  assert.deepEqual(copy.counted, { n: 1 });
  assert.ok(copy.ref instanceof ivm.Reference);
  assert.ok(copy.list[1] instanceof ivm.Reference);
  assert.deepEqual(copy.list[0], {});
  assert.equal(copy.ref.derefInto === undefined, false);
});

test('handles behind getters, the library object and tokens still arrive as handles', () => {
  const ref = new ivm.Reference(2);
  const source = new ivm.ExternalCopy({ deep: true });
  const value = { get viaGetter() { return { ref }; }, lib: ivm, token: source.copyInto() };
  const copy = new ivm.ExternalCopy(value);
  const out = copy.copy();
  assert.ok(out.viaGetter.ref instanceof ivm.Reference);
  assert.equal(out.lib, ivm);
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('c', copy);
  assert.equal(context.evalSync('const x = c.copy(); x.token.deep + ":" + typeof x.lib.Reference + ":" + x.viaGetter.ref.typeof'), 'true:function:number');
  isolate.dispose();
});

test('errors from getters and uncloneable values are the property-by-property clone\'s', () => {
  const boom = { get bad() { throw new RangeError('getter failed'); } };
  assert.throws(() => new ivm.ExternalCopy(boom), { name: 'RangeError', message: 'getter failed' });
  for (const bad of [{ f() {} }, { p: Promise.resolve() }, { w: new WeakMap() }, { s: Symbol('x') }, { px: new Proxy({}, {}) }]) {
    let expected;
    try {
      new ivm.ExternalCopy(bad, { transferList: [] });
    } catch (e) {
      expected = e;
    }
    assert.ok(expected instanceof TypeError);
    assert.throws(() => new ivm.ExternalCopy(bad), { name: 'TypeError', message: expected.message });
  }
});

test('copies of host objects stay valid after the source changes and count their size', () => {
  const value = { list: [1, 2, 3], text: 'x'.repeat(1 << 20) };
  const before = ivm.ExternalCopy.totalExternalSize;
  const copy = new ivm.ExternalCopy(value);
  assert.ok(ivm.ExternalCopy.totalExternalSize >= before + (1 << 20));
  value.list.push(4);
  assert.deepEqual(copy.copy().list, [1, 2, 3]);
  copy.release();
  assert.ok(ivm.ExternalCopy.totalExternalSize < before + (1 << 20));
});

test('errors inside copies follow V8\'s serialiser: the kind their name names, message and stack', () => {
  const custom = new RangeError('out');
  custom.name = 'Custom';
  const renamed = new Error('was plain');
  renamed.name = 'TypeError';
  const [a, b] = new ivm.ExternalCopy([custom, renamed]).copy();
  assert.ok(a instanceof Error && !(a instanceof RangeError));
  assert.equal(a.message, 'out');
  assert.ok(b instanceof TypeError);
  assert.equal(b.message, 'was plain');
  assert.equal(typeof b.stack, 'string');
});

test('objects of a repeated shape (built from one literal per shape) copy exactly', () => {
  const many = (n, make) => Array.from({ length: n }, (_, i) => make(i));
  const shared = { s: 1 };
  const cases = {
    plain: many(20, (i) => ({ id: i, name: 'u' + i, tags: ['a'], score: i / 2, nested: { z: i } })),
    oddKeys: many(6, (i) => ({ 'with "quotes"': i, 'back\\slash': i, '\u2028line': i, '\ud800lone': i, '': i, 'é': i })),
    protoKey: many(5, (i) => JSON.parse(`{"__proto__": ${i}, "q": ${i}}`)),
    prototypeNames: many(5, (i) => ({ constructor: i, toString: i, hasOwnProperty: i })),
    indexKeys: many(5, (i) => ({ 0: i, a: i, 7: 'x' })),
    wide: many(4, (i) => Object.fromEntries(many(70, (k) => ['k' + k, i * k]))),
    selfCycles: many(6, (i) => { const o = { a: i }; o.self = o; return o; }),
    parentCycles: many(6, (i) => { const o = { a: i, child: { b: i } }; o.child.parent = o; return o; }),
    sharedInside: many(6, (i) => ({ x: shared, i })),
    repeatedRefs: (() => { const items = many(5, (i) => ({ v: i })); return [...items, ...items, { items }]; })(),
    mixedOrder: many(8, (i) => (i % 2 ? { a: i, b: i } : { b: i, a: i })),
    growing: many(8, (i) => Object.fromEntries(many(i, (k) => ['p' + k, k]))),
  };
  for (const [name, value] of Object.entries(cases)) {
    const fast = new ivm.ExternalCopy(value).copy();
    const slow = new ivm.ExternalCopy(value, { transferList: [] }).copy();
    assert.equal(describe(fast), describe(slow), name);
    assert.equal(describe(fast), describe(value), `${name} matches the source`);
  }
  const protos = new ivm.ExternalCopy(cases.protoKey).copy();
  assert.equal(Object.getPrototypeOf(protos[4]), Object.prototype, '__proto__ stays an own property');
  assert.deepEqual(Object.getOwnPropertyDescriptor(protos[4], '__proto__'), { value: 4, writable: true, enumerable: true, configurable: true });
  const cycles = new ivm.ExternalCopy(cases.parentCycles).copy();
  assert.ok(cycles.every((o) => o.child.parent === o));
  // Names are defined, not assigned: a setter on Object.prototype sees none of them.
  let setterCalls = 0;
  Object.defineProperty(Object.prototype, 'trap', { set() { setterCalls++; }, configurable: true });
  try {
    const copied = new ivm.ExternalCopy(many(6, (i) => ({ trap: i, other: i }))).copy();
    assert.equal(setterCalls, 0);
    assert.deepEqual(copied.map((o) => Object.getOwnPropertyDescriptor(o, 'trap').value), [0, 1, 2, 3, 4, 5]);
  } finally {
    delete Object.prototype.trap;
  }
});

test('repeated shapes still copy when code generation from strings is disallowed', () => {
  const script = `
    const ivm = require(${JSON.stringify(new URL('..', import.meta.url).pathname)});
    const data = Array.from({ length: 10 }, (_, i) => ({ a: i, b: 'x' + i }));
    const out = new ivm.ExternalCopy(data).copy();
    process.stdout.write(JSON.stringify(out) === JSON.stringify(data) ? 'same' : 'different');`;
  const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'same');
});
