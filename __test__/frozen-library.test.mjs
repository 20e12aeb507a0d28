// The library is frozen everywhere (issue 11 item 16), as in isolated-vm 5.0.4: guest class
// prototypes are frozen and have an immutable prototype in every context, also one that never
// received the library; the host export keeps its classes as own properties (ESM named
// imports) and on its own frozen prototype, so assigning there cannot reach Object.prototype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

// Checks the prototype of each handle passed in as $0…$N, by class name.
const probe = `
  return $0.map((h) => {
    const p = Object.getPrototypeOf(h);
    const name = p.constructor.name;
    const key = Object.getOwnPropertyNames(p).find((k) => k !== 'constructor' && typeof Object.getOwnPropertyDescriptor(p, k).value === 'function');
    const before = p[key];
    p[key] = 1;
    let strict, setProto;
    try { (function () { 'use strict'; p[key] = 2; })(); strict = 'no error'; } catch (e) { strict = e.message; }
    try { Object.setPrototypeOf(p, null); setProto = 'no error'; } catch (e) { setProto = e.message; }
    return [name, Object.isFrozen(p), p[key] === before, strict === "Cannot assign to read only property '" + key + "' of object '#<" + name + ">'", setProto].join('|');
  });
`;

function expected(names) {
  return names.map((n) => `${n}|true|true|true|Immutable prototype object '#<${n}>' cannot have their prototype set`);
}

test('guest class prototypes are frozen and immutable in a context that never received the library', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const inner = new ivm.Isolate();
  const handles = [new ivm.ExternalCopy(1), new ivm.Reference({}), inner, inner.createContextSync(), inner.compileScriptSync('1'),
    inner.compileModuleSync('export default 1;')];
  const out = context.evalClosureSync(`${probe.replace('$0.map', '[$0, $1, $2, $3, $4, $5].map')}`, handles, { result: { copy: true } });
  assert.deepEqual(out, expected(['ExternalCopy', 'Reference', 'Isolate', 'Context', 'Script', 'Module']));
  inner.dispose();
  isolate.dispose();
});

test('inside a guest, handles passed to a nested context without the library are locked too', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const out = context.evalSync(`
    const inner = new ivm.Isolate();
    const ctx = inner.createContextSync();
    const third = new ivm.Isolate();
    JSON.stringify(ctx.evalClosureSync(${JSON.stringify(probe.replace('$0.map', '[$0, $1, $2, $3, $4, $5].map'))},
      [new ivm.ExternalCopy(1), new ivm.Reference({}), third, third.createContextSync(), third.compileScriptSync('1'),
        third.compileModuleSync('export default 1;')], { result: { copy: true } }));
  `);
  assert.deepEqual(JSON.parse(out), expected(['ExternalCopy', 'Reference', 'Isolate', 'Context', 'Script', 'Module']));
  isolate.dispose();
});

test('the host export: own classes, and a frozen prototype holding them that is not Object.prototype', () => {
  const proto = Object.getPrototypeOf(ivm);
  assert.notEqual(proto, Object.prototype);
  assert.ok(Object.isFrozen(ivm) && Object.isFrozen(proto));
  for (const name of ['Isolate', 'Context', 'Script', 'Reference', 'ExternalCopy', 'Callback']) {
    assert.equal(Object.getOwnPropertyDescriptor(ivm, name).value, proto[name], name);
  }
  assert.throws(() => { 'use strict'; proto.polluted = 1; }, TypeError);
  assert.equal(({}).polluted, undefined);
});
