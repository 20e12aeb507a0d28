// Reference.apply* against guest functions (SPEC §1.2, §2.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const isolate = new ivm.Isolate();
const context = isolate.createContextSync();
test.after(() => isolate.dispose());
const fn = (code) => context.evalClosureSync(`return ${code}`, [], { result: { reference: true } });

test('applySync, apply, applyIgnored call the guest function', async () => {
  const add = fn('function add(a, b) { "use strict"; return [this === undefined ? "u" : this.tag, a + b].join(":") }');
  assert.equal(add.typeof, 'function');
  assert.equal(add.applySync(undefined, [1, 2]), 'u:3');
  assert.equal(add.applySync({ tag: 'T' }, [1, 2], { arguments: { copy: true } }), 'T:3');
  assert.equal(await add.apply(undefined, ['a', 'b']), 'u:ab');
  assert.equal(add.applyIgnored(undefined, [1, 1]), undefined);
  const counter = fn('function () { globalThis.calls = (globalThis.calls || 0) + 1 }');
  counter.applyIgnored();
  counter.applySync();
  assert.equal(context.evalSync('calls'), 2);
});

test('apply results: primitives copied, objects as References unless result options say otherwise', () => {
  const make = fn('() => ({ a: [1] })');
  const ref = make.applySync();
  assert.ok(ref instanceof ivm.Reference);
  assert.deepEqual(ref.copySync(), { a: [1] });
  assert.deepEqual(make.applySync(undefined, [], { result: { copy: true } }), { a: [1] });
  assert.ok(make.applySync(undefined, [], { result: { externalCopy: true } }) instanceof ivm.ExternalCopy);
});

test('apply errors: not a function, non-transferable arguments, timeouts, guest exceptions', async () => {
  assert.throws(() => context.global.getSync('Math').applySync(), { name: 'TypeError', message: 'Reference is not a function' });
  const id = fn('(x) => x');
  assert.throws(() => id.applySync(undefined, [{}]), { name: 'TypeError', message: 'A non-transferable value was passed' });
  assert.throws(() => id.applySync(undefined, 5), TypeError);
  const loop = fn('() => { while (true) {} }');
  assert.throws(() => loop.applySync(undefined, [], { timeout: 20 }), { message: 'Script execution timed out.' });
  await assert.rejects(loop.apply(undefined, [], { timeout: 20 }), { message: 'Script execution timed out.' });
  const thrower = fn('() => { throw new RangeError("nope") }');
  assert.throws(() => thrower.applySync(), { name: 'RangeError', message: 'nope' });
  assert.equal(id.applySync(undefined, ['still fine']), 'still fine');
});

test('derefInto: the real value in the owning isolate, once; a TypeError elsewhere', () => {
  context.evalSync('globalThis.secretObj = { secret: 42 }');
  const ref = context.global.getSync('secretObj');
  context.global.setSync('same', ref.derefInto());
  assert.equal(context.evalSync('same === secretObj'), true);
  const token = ref.derefInto();
  context.global.setSync('a', token);
  assert.throws(() => context.global.setSync('b', token), { name: 'Error', message: 'The return value of `derefInto()` should only be used once' });
  const other = new ivm.Isolate();
  assert.throws(() => other.createContextSync().global.setSync('x', ref.derefInto()),
    { name: 'TypeError', message: 'Cannot dereference this into target isolate' });
  other.dispose();
  assert.throws(() => context.global.setSync('h', new ivm.Reference({}).derefInto()),
    { name: 'TypeError', message: 'Cannot dereference this into target isolate' });
  assert.equal(context.evalClosureSync('return $0.secret', [ref.derefInto({ release: true })]), 42);
  assert.throws(() => ref.typeof, { message: 'Reference has been released' });
});
