// One engine, two faces: every behaviour here runs on the host (Node's `ivm`) and inside a
// guest (`ivm` transferred into a context) and must give the same outcome and error text
// (ARCHITECTURE.md "One engine, two faces"; SPEC §1.3, §2.2, §2.4, §2.8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

// Each case is the body of `function (ivm)`, returning a JSON-able value; `run` reports it as
// "ok:<json>" or "err:<class>:<message>".
const prelude = `
  const run = (f) => {
    try { return 'ok:' + JSON.stringify(f()); } catch (e) { return 'err:' + (e && e.constructor && e.constructor.name) + ':' + (e && e.message); }
  };
`;

function onHost(body) {
  return new Function('ivm', prelude + body)(ivm);
}

function inGuest(context, body) {
  return context.evalSync(`(function (ivm) { ${prelude} ${body} })(ivm)`, { copy: true });
}

function sameOnBothFaces(name, body, expected) {
  test(`both faces: ${name}`, () => {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    context.global.setSync('ivm', ivm);
    try {
      const host = onHost(body);
      const guest = inGuest(context, body);
      assert.deepEqual(guest, host, `guest differs from host for: ${name}`);
      if (expected !== undefined) assert.deepEqual(host, expected);
    } finally {
      isolate.dispose();
    }
  });
}

// Options arguments and option fields (SPEC §1.3, §2.4).
sameOnBothFaces('a non-object options argument throws', `
  const ref = new ivm.Reference({ a: 1 });
  const fn = new ivm.Reference(() => 1);
  return [
    run(() => ref.getSync('a', 5)), run(() => ref.getSync('a', 'x')), run(() => ref.setSync('a', 1, true)),
    run(() => fn.applySync(undefined, [], 1)), run(() => ref.deref(5)), run(() => ref.derefInto(5)),
    run(() => new ivm.ExternalCopy(1).copy(5)), run(() => new ivm.Reference(1, 2)), run(() => new ivm.Callback(() => 1, 3)),
  ];
`, [
  'err:TypeError:`undefined` requires parameter 2 to be an object', 'err:TypeError:`undefined` requires parameter 2 to be an object',
  'err:TypeError:`undefined` requires parameter 3 to be an object', 'err:TypeError:`undefined` requires parameter 3 to be an object',
  'err:TypeError:`undefined` requires parameter 1 to be an object', 'err:TypeError:`undefined` requires parameter 1 to be an object',
  'err:TypeError:`undefined` requires parameter 1 to be an object', 'err:TypeError:`Reference` requires parameter 2 to be an object',
  'err:TypeError:`Callback` requires parameter 2 to be an object',
]);

sameOnBothFaces('null options and null fields take the defaults', `
  const ref = new ivm.Reference({ a: 1 });
  const fn = new ivm.Reference((x) => x);
  return [run(() => ref.getSync('a', null)), run(() => fn.applySync(undefined, [2], { timeout: null, arguments: null, result: null })),
    run(() => ref.getSync('a', { copy: null }))];
`, ['ok:1', 'ok:2', 'ok:1']);

// isolated-vm 5.0.4 passes a null receiver on as null; only undefined means "none".
sameOnBothFaces('a null receiver is passed on as null', `
  const fn = new ivm.Reference(function () { 'use strict'; return this === null ? 'null' : typeof this; });
  return [run(() => fn.applySync(null, [])), run(() => fn.applySync(undefined, [])), run(() => fn.applySync()),
    run(() => fn.applySync(7, []))];
`, ['ok:"null"', 'ok:"undefined"', 'ok:"undefined"', 'ok:"number"']);

// One Reference dispatch, in isolated-vm 5.0.4's order: the argument types (an options object,
// an arguments array) are checked first, then whether the Reference was released, then keys,
// option fields and values; whatever it refers to (a value of this heap, or of another isolate).
sameOnBothFaces('a released Reference: argument types first, then "released", then the rest', `
  const iso = new ivm.Isolate();
  const ctx = iso.createContextSync();
  const out = [];
  for (const r of [new ivm.Reference({}), ctx.evalSync('({})', { reference: true })]) {
    r.release();
    out.push([run(() => r.getSync(Symbol())), run(() => r.getSync('a', 5)), run(() => r.getSync('a', { copy: true, reference: true })),
      run(() => r.setSync({}, 1)), run(() => r.setSync('a', {})), run(() => r.setSync('a', 1, 5)), run(() => r.deleteSync({})),
      run(() => r.applySync(undefined, 5)), run(() => r.applySync(undefined, [], 5)), run(() => r.applySync({}, [])),
      run(() => r.applySync(undefined, [], { timeout: 'x' })), run(() => r.copySync())]);
  }
  iso.dispose();
  return out;
`, Array(2).fill([
  'err:Error:Reference has been released', 'err:TypeError:\`undefined\` requires parameter 2 to be an object',
  'err:Error:Reference has been released', 'err:Error:Reference has been released', 'err:Error:Reference has been released',
  'err:TypeError:\`undefined\` requires parameter 3 to be an object', 'err:Error:Reference has been released',
  'err:TypeError:\`undefined\` requires parameter 2 to be an array', 'err:TypeError:\`undefined\` requires parameter 3 to be an object',
  'err:Error:Reference has been released', 'err:Error:Reference has been released', 'err:Error:Reference has been released',
]));

// set and delete settle with undefined (isolated-vm 5.0.4), on every kind of target.
sameOnBothFaces('set and delete return undefined', `
  const iso = new ivm.Isolate();
  const ctx = iso.createContextSync();
  const out = [];
  for (const r of [new ivm.Reference({}), ctx.evalSync('({})', { reference: true })]) {
    out.push(run(() => r.setSync('a', 1)), run(() => r.deleteSync('a')), run(() => typeof r.setIgnored('b', 2)));
  }
  iso.dispose();
  return out;
`, Array(2).fill(['ok:undefined', 'ok:undefined', 'ok:"undefined"']).flat());

// Keys: strings and indexes reach a value of another isolate; a symbol cannot travel.
sameOnBothFaces('keys into another isolate', `
  const iso = new ivm.Isolate();
  const ctx = iso.createContextSync();
  const r = ctx.evalSync('globalThis.o = { a: 1, 2: "two" }', { reference: true });
  const out = [run(() => r.getSync('a')), run(() => r.getSync(2)), run(() => r.setSync('b', 3)), run(() => ctx.evalSync('o.b')),
    run(() => r.deleteSync('a')), run(() => ctx.evalSync('"a" in o')), run(() => r.getSync(Symbol('s'))),
    run(() => r.getSync(1.5)), run(() => r.getSync({}))];
  iso.dispose();
  return out;
`);

// Handles cloned out of an isolate stay handles of the same kind, top-level or nested: return
// values of functions called across, copy: true and externalCopy: true (issue 11 item 3).
sameOnBothFaces('handles cloned out of an isolate stay handles', `
  const iso = new ivm.Isolate();
  const ctx = iso.createContextSync();
  ctx.global.setSync('ivm', ivm);
  ctx.evalSync('globalThis.mk = () => new ivm.Reference({ a: 1 })');
  const o = ctx.evalSync('({ a: new ivm.ExternalCopy(1), r: new ivm.Reference(2), n: [new ivm.Reference(3)] })', { copy: true });
  const out = [ctx.global.getSync('mk')() instanceof ivm.Reference, o.a instanceof ivm.ExternalCopy, o.r instanceof ivm.Reference,
    o.n[0].copySync(), ctx.evalSync('new ivm.ExternalCopy({ r: new ivm.Reference(9) })').copy().r.copySync(),
    ctx.evalSync('({ r: new ivm.Reference(8) })', { externalCopy: true }).copy().r.copySync()];
  iso.dispose();
  return out;
`, [true, true, true, 3, 9, 8]);

// ExternalCopy and ArrayBuffer transfers (issue 11 item 4), as isolated-vm 5.0.4: transferOut
// detaches a view's buffer; transferIn moves out copies of buffers, of views and of values made
// with a transferList (later copies are "Array buffer is invalid"), and nothing else;
// copyInto({ release }) and the static totalExternalSize exist on both faces.
sameOnBothFaces('ExternalCopy transfers', `
  const t = (f) => { try { const r = f(); return r && typeof r === 'object' ? 'ok' : String(r); } catch (e) { return 'ERR ' + e.message; } };
  const out = [];
  const u8 = new Uint8Array([1, 2, 3]);
  new ivm.ExternalCopy(u8, { transferOut: true });
  const dv = new DataView(new ArrayBuffer(4));
  new ivm.ExternalCopy(dv, { transferOut: true });
  out.push(u8.byteLength, dv.buffer.byteLength);
  let e = new ivm.ExternalCopy(new Uint8Array(4));
  out.push(t(() => e.copy({ transferIn: true })), t(() => e.copy()));
  e = new ivm.ExternalCopy(new ArrayBuffer(4));
  out.push(t(() => e.copy({ transferIn: true })), t(() => e.copy()));
  const ab = new ArrayBuffer(8);
  e = new ivm.ExternalCopy({ a: ab }, { transferList: [ab] });
  out.push(ab.byteLength, t(() => e.copy({ transferIn: true })), t(() => e.copy()));
  e = new ivm.ExternalCopy({ a: new ArrayBuffer(8) });
  out.push(t(() => e.copy({ transferIn: true })), t(() => e.copy()));
  const iso = new ivm.Isolate();
  const ctx = iso.createContextSync();
  const src = new ivm.ExternalCopy({ v: 5 });
  ctx.global.setSync('x', src.copyInto({ release: true }));
  out.push(ctx.evalSync('x.v'), t(() => src.copy()), typeof ivm.ExternalCopy.totalExternalSize);
  iso.dispose();
  return out;
`, [0, 0, 'ok', 'ERR Array buffer is invalid', 'ok', 'ERR Array buffer is invalid', 0, 'ok', 'ERR Array buffer is invalid',
  'ok', 'ok', 5, 'ERR Copy has been released', 'number']);

sameOnBothFaces('copyInto({ transferIn }) moves a buffer out of its ExternalCopy when the token arrives', `
  const t = (f) => { try { const r = f(); return r && typeof r === 'object' ? 'ok' : String(r); } catch (e) { return 'ERR ' + e.message; } };
  const out = [];
  const iso = new ivm.Isolate();
  const ctx = iso.createContextSync();
  const e = new ivm.ExternalCopy(new Uint8Array([1, 2, 3]).buffer);
  const token = e.copyInto({ transferIn: true });
  out.push(t(() => e.copy()));
  ctx.global.setSync('b', token);
  out.push(ctx.evalSync('new Uint8Array(b).join()'), t(() => e.copy()));
  const o = new ivm.ExternalCopy({ v: 1 });
  ctx.global.setSync('c', o.copyInto({ transferIn: true }));
  out.push(ctx.evalSync('c.v'), t(() => o.copy()));
  const e2 = new ivm.ExternalCopy(new ArrayBuffer(2));
  const first = e2.copyInto({ transferIn: true });
  const second = e2.copyInto({ transferIn: true });
  ctx.global.setSync('d', first);
  out.push(ctx.evalSync('d.byteLength'), t(() => ctx.global.setSync('f', second)));
  const plain = new ivm.ExternalCopy(new ArrayBuffer(2));
  ctx.global.setSync('g', plain.copyInto());
  out.push(t(() => plain.copy()));
  iso.dispose();
  return out;
`, ['ok', '1,2,3', 'ERR Array buffer is invalid', 1, 'ok', 2, 'ERR Array buffer is invalid', 'ok']);

sameOnBothFaces('option type errors', `
  const ref = new ivm.Reference({ a: 1 });
  const fn = new ivm.Reference(() => 1);
  return [
    run(() => fn.applySync(undefined, [], { timeout: 'x' })), run(() => fn.applySync(undefined, [], { timeout: NaN })),
    run(() => fn.applySync(undefined, [], { timeout: -1 })), run(() => fn.applySync(undefined, [], { arguments: 5 })),
    run(() => fn.applySync(undefined, [], { result: 'x' })), run(() => ref.getSync('a', { copy: true, reference: true })),
    run(() => ref.setSync('b', 1, { externalCopy: true, copy: true })),
    run(() => fn.applySync(undefined, [], { result: { reference: true, externalCopy: true } })),
    run(() => ref.getSync('a', { get copy() { throw new RangeError('from a getter'); } })),
  ];
`, [
  'err:TypeError:`timeout` must be a 32-bit number', 'err:TypeError:`timeout` must be a 32-bit number',
  'ok:1', 'err:TypeError:`arguments` must be an object',
  'err:TypeError:`result` must be an object', 'err:TypeError:Only one of `copy`, `externalCopy`, or `reference` may be set',
  'err:TypeError:Only one of `copy`, `externalCopy`, or `reference` may be set',
  'err:TypeError:Only one of `copy`, `externalCopy`, or `reference` may be set', 'err:RangeError:from a getter',
]);

// Reference property access (SPEC §2.8).
sameOnBothFaces('keys: strings, uint32 numbers and symbols; anything else is invalid', `
  const s = Symbol('k');
  const o = { a: 1, 7: 'seven', [s]: 'sym' };
  const ref = new ivm.Reference(o);
  return [run(() => ref.getSync('a')), run(() => ref.getSync(7)), run(() => ref.getSync(s)), run(() => ref.setSync(s, 2)),
    run(() => o[s]), run(() => ref.deleteSync(s)), run(() => s in o),
    run(() => ref.getSync({})), run(() => ref.getSync(-1)), run(() => ref.getSync(1.5)), run(() => ref.getSync(null)),
    run(() => ref.deleteSync(true))];
`, ['ok:1', 'ok:"seven"', 'ok:"sym"', 'ok:undefined', 'ok:2', 'ok:undefined', 'ok:false', 'err:TypeError:Invalid `key`',
  'err:TypeError:Invalid `key`', 'err:TypeError:Invalid `key`', 'err:TypeError:Invalid `key`', 'err:TypeError:Invalid `key`']);

sameOnBothFaces('proxies anywhere on the chain are refused', `
  const p = new ivm.Reference(new Proxy({ a: 1 }, {}));
  const q = new ivm.Reference(Object.create(new Proxy({}, {})));
  return [run(() => p.getSync('a')), run(() => p.setSync('a', 1)), run(() => p.deleteSync('a')), run(() => q.getSync('a')),
    run(() => p.getSync('a', { accessors: true }))];
`, Array(5).fill('err:TypeError:Object is or has proxy'));

sameOnBothFaces('getters, own properties, non-objects, frozen objects', `
  const ref = new ivm.Reference({ get g() { return 'got'; } });
  const frozen = new ivm.Reference(Object.freeze({ a: 1 }));
  return [run(() => ref.getSync('g')), run(() => ref.getSync('g', { accessors: true })), run(() => ref.getSync('toString')),
    run(() => new ivm.Reference(1).getSync('a')), run(() => frozen.setSync('a', 2)), run(() => frozen.deleteSync('a')),
    run(() => new ivm.Reference({}).applySync())];
`, ['err:TypeError:Property is getter', 'ok:"got"', 'ok:undefined', 'err:TypeError:Reference is not an object',
  'err:TypeError:Set failed', 'err:TypeError:Delete failed', 'err:TypeError:Reference is not a function']);

sameOnBothFaces('get results follow the transfer rules', `
  const o = { n: 1, obj: { x: 1 }, f: (a) => a + 1 };
  const ref = new ivm.Reference(o);
  const r = ref.getSync('obj');
  const c = ref.getSync('obj', { copy: true });
  const e = ref.getSync('obj', { externalCopy: true });
  const n = ref.getSync('n', { reference: true });
  return [r instanceof ivm.Reference, r.typeof, c !== o.obj && c.x, e instanceof ivm.ExternalCopy && e.copy().x,
    n instanceof ivm.Reference && n.typeof, typeof ref.getSync('f'), ref.getSync('f')(1)];
`, [true, 'object', 1, 1, 'number', 'function', 2]);

sameOnBothFaces('set values follow the transfer rules', `
  const o = {};
  const ref = new ivm.Reference(o);
  const value = { x: 1 };
  ref.setSync('r', 5, { reference: true });
  ref.setSync('ro', value, { reference: true });
  ref.setSync('e', value, { externalCopy: true });
  ref.setSync('c', value, { copy: true });
  ref.setSync('p', 'plain');
  // Without options an object is not transferable, even into its own heap (as in isolated-vm).
  return [o.r instanceof ivm.Reference && o.r.typeof, o.ro instanceof ivm.Reference && o.ro.deref() === value,
    o.e instanceof ivm.ExternalCopy && o.e.copy().x, o.c !== value && o.c.x, o.p, run(() => ref.setSync('same', value)),
    run(() => ref.setSync('bad', () => 1, { copy: true }))];
`, ['number', true, 1, 1, 'plain', 'err:TypeError:A non-transferable value was passed', 'err:TypeError:() => 1 could not be cloned.']);

sameOnBothFaces('apply arguments and results follow the transfer rules', `
  const fn = new ivm.Reference(function (a, b) { return [a instanceof ivm.Reference && a.typeof, b instanceof ivm.Reference && b.typeof, this === undefined || this === globalThis]; });
  const mk = new ivm.Reference(() => ({ x: 1 }));
  const prim = new ivm.Reference(() => 5);
  const refs = fn.applySync(undefined, [{}, 1], { arguments: { reference: true }, result: { copy: true } });
  const asRef = mk.applySync();
  const copied = mk.applySync(undefined, [], { result: { copy: true } });
  const primRef = prim.applySync(undefined, [], { result: { reference: true } });
  const ext = mk.applySync(undefined, [], { result: { externalCopy: true } });
  const viaCopy = new ivm.Reference((o) => o.x).applySync(undefined, [{ x: 3 }], { arguments: { copy: true } });
  return [refs, asRef instanceof ivm.Reference && asRef.typeof, copied.x, primRef instanceof ivm.Reference && primRef.typeof,
    ext instanceof ivm.ExternalCopy && ext.copy().x, viaCopy, run(() => fn.applySync(undefined, [{}])),
    run(() => fn.applySync({}, [])), run(() => fn.applySync(undefined, 5))];
`, [['object', 'number', true], 'object', 1, 'number', 1, 3, 'err:TypeError:A non-transferable value was passed',
  'err:TypeError:A non-transferable value was passed', 'err:TypeError:`undefined` requires parameter 2 to be an array']);

sameOnBothFaces('deref, derefInto and release options', `
  const value = { v: 1 };
  const ref = new ivm.Reference(value);
  const same = ref.deref() === value;
  const token = ref.derefInto({ release: true });
  return [same, typeof token, run(() => ref.deref()), run(() => ref.release()), run(() => ref.typeof)];
`, [true, 'object', 'err:Error:Reference has been released', 'err:Error:Reference has been released', 'err:Error:Reference has been released']);

sameOnBothFaces('ExternalCopy options', `
  const buf = new ArrayBuffer(8);
  const kept = new ArrayBuffer(4);
  const c = new ivm.ExternalCopy(buf, { transferList: [buf] });
  const d = new ivm.ExternalCopy(kept, { transferOut: true });
  const e = new ivm.ExternalCopy({ a: 1 });
  return [buf.byteLength, c.copy().byteLength, kept.byteLength, d.copy({ release: true }).byteLength, run(() => d.copy()),
    run(() => new ivm.ExternalCopy(1, { transferList: [1] })), run(() => new ivm.ExternalCopy(1, { transferList: 1 })),
    run(() => new ivm.ExternalCopy(1, 5)), e.copy({ transferIn: false }).a];
`, [0, 8, 0, 4, 'err:Error:Copy has been released', 'err:TypeError:Non-ArrayBuffer passed in `transferList`',
  'err:TypeError:Non-ArrayBuffer passed in `transferList`', 'err:TypeError:`ExternalCopy` requires parameter 2 to be an object', 1]);

// eval / evalClosure / run / compile options on an isolate created by the running face.
sameOnBothFaces('eval, evalClosure, run and compile options', `
  const isolate = new ivm.Isolate();
  const ctx = isolate.createContextSync();
  const script = isolate.compileScriptSync('6 * 7', { filename: 'a.js' });
  const out = [
    run(() => ctx.evalSync('1', 5)), run(() => ctx.evalSync('1', { timeout: null, filename: null })),
    run(() => ctx.evalSync('1', { filename: 1 })), run(() => ctx.evalSync('1', { lineOffset: 'x' })),
    run(() => ctx.evalSync('({ a: 1 })', { copy: true })), run(() => ctx.evalSync('({ a: 1 })')),
    run(() => ctx.evalClosureSync('return $0 + 1', [1], 5)), run(() => ctx.evalClosureSync('return 1', [], { arguments: 5 })),
    run(() => ctx.evalClosureSync('return $0.typeof', [1], { arguments: { reference: true } })),
    run(() => ctx.evalClosureSync('return $0', [{}])),
    run(() => isolate.compileScriptSync('1', 5)), run(() => isolate.compileScriptSync('1', { filename: {} })),
    run(() => isolate.createContextSync(5)), run(() => script.runSync(ctx, 5)), run(() => script.runSync(ctx, { release: true })),
    run(() => script.runSync(ctx)), run(() => new ivm.Isolate({ memoryLimit: 'x' })), run(() => new ivm.Isolate(5)),
    run(() => new ivm.Isolate({ memoryLimit: 4 })),
  ];
  isolate.dispose();
  return out;
`, [
  'err:TypeError:`undefined` requires parameter 2 to be an object', 'ok:1', 'err:TypeError:`filename` must be a string',
  'err:TypeError:`lineOffset` must be a number', 'ok:{"a":1}', 'ok:undefined',
  'err:TypeError:`undefined` requires parameter 3 to be an object', 'err:TypeError:`arguments` must be an object', 'ok:"number"',
  'err:TypeError:A non-transferable value was passed',
  'err:TypeError:`undefined` requires parameter 2 to be an object', 'err:TypeError:`filename` must be a string',
  'err:TypeError:`undefined` requires parameter 1 to be an object', 'err:TypeError:`undefined` requires parameter 2 to be an object',
  'ok:42', 'err:Error:Script has been released', 'err:TypeError:`memoryLimit` must be a number',
  'err:TypeError:`Isolate` requires parameter 1 to be an object', 'err:Error:`memoryLimit` must be at least 8',
]);

// A Reference to a value of the *other* side: transfer options apply across the boundary
// exactly as on a value of the same side.
test('both faces: transfer options on a Reference to the other side', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const hostObj = {};
  context.global.setSync('hostObj', new ivm.Reference(hostObj));
  context.global.setSync('hostFn', new ivm.Reference(function (a) { return [a instanceof ivm.Reference && a.typeof, 7]; }));
  context.global.setSync('hostMk', new ivm.Reference(() => 5));
  context.evalSync('globalThis.guestObj = {}; globalThis.guestFn = function (a) { return [a instanceof ivm.Reference && a.typeof, 7]; }; globalThis.guestMk = () => 5');
  const guestObj = context.global.getSync('guestObj');
  const guestFn = context.global.getSync('guestFn', { reference: true });
  const guestMk = context.global.getSync('guestMk', { reference: true });

  // Host face on a guest value.
  guestObj.setSync('r', 5, { reference: true });
  guestObj.setSync('e', { x: 1 }, { externalCopy: true });
  const fromHost = [
    context.evalSync('guestObj.r instanceof ivm.Reference && guestObj.r.typeof'),
    context.evalSync('guestObj.e instanceof ivm.ExternalCopy && guestObj.e.copy().x'),
    guestFn.applySync(undefined, [{}], { arguments: { reference: true }, result: { copy: true } }),
    (() => { const r = guestMk.applySync(undefined, [], { result: { reference: true } }); return r instanceof ivm.Reference && r.typeof; })(),
  ];
  // Guest face on a host value.
  context.evalSync(`hostObj.setSync('r', 5, { reference: true }); hostObj.setSync('e', { x: 1 }, { externalCopy: true })`);
  const fromGuest = [
    hostObj.r instanceof ivm.Reference && hostObj.r.typeof,
    hostObj.e instanceof ivm.ExternalCopy && hostObj.e.copy().x,
    context.evalSync('hostFn.applySync(undefined, [{}], { arguments: { reference: true }, result: { copy: true } })', { copy: true }),
    context.evalSync(`(() => { const r = hostMk.applySync(undefined, [], { result: { reference: true } }); return r instanceof ivm.Reference && r.typeof; })()`),
  ];
  assert.deepEqual(fromGuest, fromHost);
  assert.deepEqual(fromHost, ['number', 1, ['object', 7], 'number']);
  // Across heaps a plain object needs an option.
  assert.throws(() => guestObj.setSync('bad', {}), { name: 'TypeError', message: 'A non-transferable value was passed' });
  assert.equal(context.evalSync(`try { hostObj.setSync('bad', {}) } catch (e) { e.message }`), 'A non-transferable value was passed');
  // A symbol key cannot travel to another heap.
  assert.throws(() => guestObj.getSync(Symbol('s')), { name: 'TypeError', message: 'Invalid `key`' });
  assert.equal(context.evalSync(`try { hostObj.getSync(Symbol('s')) } catch (e) { e.message }`), 'Invalid `key`');
  // Option errors are the same across the boundary too.
  assert.throws(() => guestObj.getSync('r', 5), { message: '`undefined` requires parameter 2 to be an object' });
  assert.equal(context.evalSync(`try { hostObj.getSync('r', 5) } catch (e) { e.message }`), '`undefined` requires parameter 2 to be an object');
  assert.throws(() => guestFn.applySync(undefined, [], { timeout: 'x' }), { message: '`timeout` must be a 32-bit number' });
  assert.equal(context.evalSync(`try { hostFn.applySync(undefined, [], { timeout: 'x' }) } catch (e) { e.message }`), '`timeout` must be a 32-bit number');
  isolate.dispose();
});

// Issue 11 item 1: the explicit options on what is sent into an isolate (isolated-vm 5.0.4 gives
// the same array on both faces).
sameOnBothFaces('transfer options into an isolate: reference on every kind of value, externalCopy on arguments', `
  const isolate = new ivm.Isolate();
  const c = isolate.createContextSync();
  c.global.setSync('ivm', ivm);
  c.evalClosureSync('globalThis.a = [$0, $1, $2, $3]', [() => 1, { x: 1 }, 5, new ivm.ExternalCopy(2)], { arguments: { reference: true } });
  const out = [c.evalSync('a.map(v => v instanceof ivm.Reference).join()'), c.evalSync('a.map(v => v.typeof).join()'), c.evalSync('a[0].applySync()'), c.evalSync('a[2].copySync()')];
  c.evalClosureSync('globalThis.b = [$0, $1]', [{ x: 1 }, 's'], { arguments: { externalCopy: true } });
  out.push(c.evalSync('b.map(v => v instanceof ivm.ExternalCopy).join() + ":" + b[0].copy().x + b[1].copy()'));
  const fn = c.evalSync('(a, b) => [a instanceof ivm.ExternalCopy, b instanceof ivm.Reference].join()', { reference: true });
  out.push(fn.applySync(undefined, [{ y: 2 }, 1], { arguments: { externalCopy: true } }), fn.applySync(undefined, [1, () => 2], { arguments: { reference: true } }));
  c.global.setSync('f', () => 3, { reference: true });
  out.push(c.evalSync('f instanceof ivm.Reference && f.applySync()'));
  isolate.dispose();
  return out;
`, ['true,true,true,true', 'function,object,number,object', 1, 5, 'true,true:1s', 'true,false', 'false,true', 3]);

// Issue 11 item 3: handles among the arguments of a host function a guest calls (a Callback or
// a plain function) arrive as handles, top-level and nested (isolated-vm 5.0.4: the same).
sameOnBothFaces('handles in the arguments of callbacks stay handles', `
  const isolate = new ivm.Isolate();
  const c = isolate.createContextSync();
  c.global.setSync('ivm', ivm);
  const seen = [];
  const see = (a, b) => { seen.push([a instanceof ivm.Reference, b.nested instanceof ivm.ExternalCopy, b.list[0] instanceof ivm.Reference, a.typeof, b.nested.copy()].join()); return 1; };
  c.global.setSync('cb', new ivm.Callback(see));
  c.global.setSync('fn', see);
  c.evalSync('cb(new ivm.Reference({ a: 1 }), { nested: new ivm.ExternalCopy(2), list: [new ivm.Reference(3)] })');
  c.evalSync('fn(new ivm.Reference({ a: 1 }), { nested: new ivm.ExternalCopy(2), list: [new ivm.Reference(3)] })');
  isolate.dispose();
  return seen;
`, ['true,true,true,object,2', 'true,true,true,object,2']);
