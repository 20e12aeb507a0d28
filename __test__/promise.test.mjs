// The `promise: true` transfer option (SPEC §2.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

test('eval with promise: true resolves with the settled value', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const p = context.evalSync('Promise.resolve(5)', { promise: true });
  assert.ok(p instanceof Promise, 'the sync flavour returns a promise');
  assert.equal(await p, 5);
  assert.equal(await context.eval('(async () => { await null; return "later" })()', { promise: true }), 'later');
  assert.equal(await context.eval('7', { promise: true }), 7, 'non-promises just resolve');
  assert.deepEqual(await context.eval('Promise.resolve({ a: [1] })', { promise: true, copy: true }), { a: [1] });
  assert.equal(await context.eval('Promise.resolve({ a: [1] })', { promise: true }), undefined, 'eval fallback applies');
  assert.ok(await context.eval('Promise.resolve({ a: 1 })', { promise: true, externalCopy: true }) instanceof ivm.ExternalCopy);
  await assert.rejects(context.eval('Promise.reject(new RangeError("nope"))', { promise: true }), { name: 'RangeError', message: 'nope' });
  isolate.dispose();
});

test('promises chain through async host callbacks and apply results', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('host', new ivm.Callback((x) => x * 3, { async: true }));
  assert.equal(await context.eval('host(14)', { promise: true }), 42);
  const fn = context.evalClosureSync('return async (x) => x + 1', [], { result: { reference: true } });
  assert.equal(await fn.apply(undefined, [1], { result: { promise: true } }), 2);
  assert.equal(await context.evalClosure('return Promise.resolve($0 * 2)', [4], { result: { promise: true } }), 8);
  await assert.rejects(context.evalClosure('return Promise.resolve({})', [], { result: { promise: true } }),
    { name: 'TypeError', message: 'A non-transferable value was passed' });
  isolate.dispose();
});

test('disposing the isolate abandons pending promises', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const never = context.eval('new Promise(() => {})', { promise: true });
  setTimeout(() => isolate.dispose(), 20);
  await assert.rejects(never, { name: 'Error', message: 'Promise was abandoned' });
});

test('promise: true settles non-transferable values as References where the call site falls back to one', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.evalSync('globalThis.f = async () => ({ a: 1 }); globalThis.o = { p: Promise.resolve({ b: 2 }) }');
  const f = context.global.getSync('f', { reference: true });
  const fromApply = await f.apply(undefined, [], { result: { promise: true } });
  assert.ok(fromApply instanceof ivm.Reference, 'apply result');
  assert.equal(fromApply.getSync('a'), 1);
  const fromGet = await context.global.getSync('o').get('p', { promise: true });
  assert.ok(fromGet instanceof ivm.Reference, 'get result');
  assert.equal(fromGet.getSync('b'), 2);
  const asked = await context.eval('Promise.resolve({ c: 3 })', { promise: true, reference: true });
  assert.ok(asked instanceof ivm.Reference, 'reference: true with promise: true');
  assert.equal(asked.getSync('c'), 3);
  assert.equal(await context.eval('Promise.resolve({ c: 3 })', { promise: true }), undefined, 'eval still falls back to undefined');
  isolate.dispose();
});
