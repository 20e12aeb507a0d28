// Inside a guest, transfer options on References to host values (issue 11 item 2), as
// isolated-vm 5.0.4 behaves (checked case by case): `result: { promise: true }` makes `apply`
// settle with the host promise's value and `applySync` return a Promise at once; `reference`
// and `externalCopy` on set values and arguments; guest functions set on a host object or passed
// as arguments arrive as callable host functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

function setup() {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  return { isolate, context };
}

const slow = () => new ivm.Reference(() => new Promise((r) => setTimeout(() => r({ v: 1 }), 10)));

test('applySync with result: { promise: true } returns a Promise at once; apply settles with the value', async () => {
  const { isolate, context } = setup();
  assert.equal(context.evalClosureSync('return $0.applySync(undefined, [], { result: { promise: true } }) instanceof Promise', [slow()]), true);
  assert.equal(await context.evalClosure('return $0.applySync(undefined, [], { result: { promise: true, copy: true } }).then((x) => JSON.stringify(x))',
    [slow()], { result: { promise: true } }), '{"v":1}');
  assert.equal(await context.evalClosure('return $0.apply(undefined, [], { result: { promise: true, copy: true } }).then((x) => JSON.stringify(x))',
    [slow()], { result: { promise: true } }), '{"v":1}');
  // A plain result under promise: true is an already-settled promise.
  assert.equal(await context.evalClosure('return $0.applySync(undefined, [], { result: { promise: true } })',
    [new ivm.Reference(() => 5)], { result: { promise: true } }), 5);
  isolate.dispose();
});

test('set values and arguments to host values: reference, externalCopy, and functions as callables', () => {
  const { isolate, context } = setup();
  const host = {};
  context.evalClosureSync(`
    $0.setSync('f', function (a) { return a * 3; });
    $0.setSync('r', 5, { reference: true });
    $0.setSync('e', { x: 1 }, { externalCopy: true });`, [new ivm.Reference(host)]);
  assert.equal(typeof host.f, 'function');
  assert.equal(host.f(2), 6);
  assert.ok(host.r instanceof ivm.Reference);
  assert.equal(host.r.copySync(), 5);
  assert.deepEqual(host.e.copy(), { x: 1 });
  const probe = new ivm.Reference((f, r) => `${f(4)}:${r instanceof ivm.Reference}`);
  assert.equal(context.evalClosureSync('return $0.applySync(undefined, [function (x) { return x + 1; }, 2], { arguments: { reference: false } })', [probe]).split(':')[0], '5');
  assert.equal(context.evalClosureSync('return $0.applySync(undefined, [(x) => x, {}], { arguments: { reference: true } })', [new ivm.Reference((f, o) => `${f instanceof ivm.Reference}:${o instanceof ivm.Reference}`)]), 'true:true');
  isolate.dispose();
});
