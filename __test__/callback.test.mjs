// Functions crossing into isolates: plain functions and Callback in sync, async and ignored
// modes (SPEC §2.7).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const settle = () => new Promise((r) => setTimeout(r, 30));

test('a plain host function arrives as a callable function with name and length', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  function log(a, b) { return `logged ${a} ${JSON.stringify(b)}`; }
  context.global.setSync('log', log);
  assert.equal(context.evalSync('typeof log + ":" + log.name + ":" + log.length'), 'function:log:2');
  assert.equal(context.evalSync('log(1, { deep: [1, 2] })'), 'logged 1 {"deep":[1,2]}');
  assert.equal(context.evalSync('try { new log() } catch (e) { e.constructor.name }'), 'TypeError');
  assert.throws(() => context.evalSync('log(() => 1)'), { name: 'TypeError', message: '() => 1 could not be cloned.' });
  assert.equal(context.evalClosureSync('return $0(2, 3)', [(a, b) => a + b]), 5);
  context.global.setSync('mk', () => ({ list: [1, 2], when: new Date(0) }));
  assert.equal(context.evalSync('const o = mk(); o.list.length + ":" + (o.when instanceof Date)'), '2:true');
  isolate.dispose();
});

test('a sync callback returning a promise fails with the clone error (the famous one)', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('asyncFn', async () => 5);
  assert.throws(() => context.evalSync('asyncFn()'), { name: 'TypeError', message: '#<Promise> could not be cloned.' });
  isolate.dispose();
});

// As in isolated-vm 5.0.4: the promise settles with the copied result, so a promise the host
// function returns (an async function) is not awaited but fails to copy (SPEC §3.5).
test('async callbacks return a promise of the copied result; a returned promise fails to copy; errors reject', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('later', new ivm.Callback(async (x) => x * 2, { async: true }));
  context.global.setSync('plain', new ivm.Callback((x) => x + 1, { async: true }));
  context.global.setSync('boom', new ivm.Callback(() => { throw new TypeError('boom'); }, { async: true }));
  await context.eval(`later(21).catch((e) => { globalThis.got = e.constructor.name + ': ' + e.message });
    plain(1).then((v) => { globalThis.plainGot = v });
    boom().catch((e) => { globalThis.err = e.constructor.name + ': ' + e.message }); 1`);
  await settle();
  assert.equal(context.evalSync('got + "|" + plainGot + "|" + err'), 'TypeError: #<Promise> could not be cloned.|2|TypeError: boom');
  assert.equal(context.evalSync('later(1) instanceof Promise'), true);
  isolate.dispose();
});

test('ignored callbacks return undefined and swallow errors', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const seen = [];
  context.global.setSync('fire', new ivm.Callback((x) => { seen.push(x); throw new Error('ignored'); }, { ignored: true }));
  assert.equal(context.evalSync('fire(7)'), undefined);
  await settle();
  assert.deepEqual(seen, [7]);
  isolate.dispose();
});

test('Reference.apply and applyIgnored from a guest', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const calls = [];
  context.global.setSync('h', new ivm.Reference((a) => { calls.push(a); return a + 1; }));
  context.evalSync('h.apply(undefined, [1]).then((v) => { globalThis.applied = v }); h.applyIgnored(undefined, [5])');
  await settle();
  assert.equal(context.evalSync('applied'), 2);
  assert.deepEqual(calls.sort(), [1, 5]);
  isolate.dispose();
});

test('Callback argument checks', () => {
  assert.throws(() => new ivm.Callback(5), { name: 'TypeError', message: '`Callback` requires parameter 1 to be a function' });
  assert.throws(() => ivm.Callback(() => 1), { name: 'TypeError', message: '`Callback` must be called with `new`' });
  assert.equal(ivm.Callback.length, 2);
  assert.ok(new ivm.Callback(() => 1) instanceof ivm.Callback);
});
