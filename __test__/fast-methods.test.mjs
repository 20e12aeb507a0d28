// The hottest sync methods are plain Node-API functions (src/api/fast.rs): they must behave as
// the napi-rs methods around them do (receiver checks, optional arguments, errors), and a script
// run again in a context reuses its binding there without mixing contexts up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const FAST = [
  ['Script', 'runSync'],
  ['Context', 'evalSync'],
  ['Context', 'evalClosureSync'],
  ['Reference', 'applySync'],
  ['Reference', 'getSync'],
  ['Reference', 'setSync'],
];

test('fast methods are prototype methods like the others (name, length, attributes)', () => {
  for (const [cls, name] of FAST) {
    const f = ivm[cls].prototype[name];
    assert.equal(typeof f, 'function', `${cls}.${name}`);
    assert.equal(f.name, name);
    const d = Object.getOwnPropertyDescriptor(ivm[cls].prototype, name);
    const other = Object.getOwnPropertyDescriptor(ivm[cls].prototype, name.replace(/Sync$/, ''));
    assert.deepEqual(
      { enumerable: d.enumerable, writable: d.writable, configurable: d.configurable },
      { enumerable: other.enumerable, writable: other.writable, configurable: other.configurable },
    );
  }
});

test('a receiver of the wrong class throws TypeError "Illegal invocation", also after many good calls', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('1');
  const ref = context.global;
  const good = { Script: script, Context: context, Reference: ref };
  const wrong = [{}, undefined, null, 1, 'x', () => {}, new ivm.ExternalCopy(1), isolate, script, context, ref];
  const args = { runSync: [context], evalSync: ['1'], evalClosureSync: ['return 1'], applySync: [], getSync: ['x'], setSync: ['x', 1] };
  for (let round = 0; round < 3; round++) {
    for (const [cls, name] of FAST) {
      const f = ivm[cls].prototype[name];
      for (const w of wrong) {
        if (w === good[cls]) continue;
        assert.throws(() => f.call(w, ...args[name]), { name: 'TypeError', message: 'Illegal invocation' }, `${cls}.${name}`);
      }
      if (name !== 'applySync') f.call(good[cls], ...args[name]);
    }
  }
  isolate.dispose();
});

test('objects collected and replaced by objects of other classes are checked again', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  for (let round = 0; round < 5; round++) {
    let scripts = Array.from({ length: 200 }, () => isolate.compileScriptSync('2'));
    for (const s of scripts) assert.equal(s.runSync(context), 2);
    scripts = null;
    global.gc?.();
    const refs = Array.from({ length: 200 }, () => new ivm.Reference({}));
    for (const r of refs) {
      assert.throws(() => ivm.Script.prototype.runSync.call(r, context), { message: 'Illegal invocation' });
    }
  }
  isolate.dispose();
});

test('optional arguments: null and undefined are "not given", as for the other methods', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('({ a: 1 })');
  assert.equal(script.runSync(context, null), undefined);
  assert.equal(script.runSync(context, undefined), undefined);
  assert.equal(context.evalSync('3', null), 3);
  assert.equal(context.evalClosureSync('return 4', null, null), 4);
  const fn = context.evalSync('(a, b) => [a, b].join()', { reference: true });
  assert.equal(fn.applySync(null, null, null), ',');
  assert.equal(fn.applySync(), ',');
  context.global.setSync('k', 5, null);
  assert.equal(context.global.getSync('k', null), 5);
  assert.throws(() => script.runSync(), { name: 'TypeError', message: '`undefined` requires at least 1 parameter' });
  isolate.dispose();
});

test('a script run in several contexts runs in each one it is given, also after a context is released', () => {
  const isolate = new ivm.Isolate();
  const contexts = Array.from({ length: 3 }, (_, i) => {
    const c = isolate.createContextSync();
    c.global.setSync('which', i);
    return c;
  });
  const script = isolate.compileScriptSync('globalThis.count = (globalThis.count || 0) + 1; which + ":" + count');
  for (let round = 1; round <= 3; round++) {
    // The same context twice in a row, then the next one.
    for (let i = 0; i < 3; i++) {
      assert.equal(script.runSync(contexts[i]), `${i}:${2 * round - 1}`);
      assert.equal(script.runSync(contexts[i]), `${i}:${2 * round}`);
    }
  }
  contexts[2].release();
  assert.throws(() => script.runSync(contexts[2]), { message: 'Context is released' });
  assert.equal(script.runSync(contexts[1]), '1:7');
  assert.equal(script.runSync(contexts[0]), '0:7');
  script.release();
  assert.throws(() => script.runSync(contexts[0]), { message: 'Script has been released' });
  isolate.dispose();
});

test('applySync passes every argument array as it is, whatever its length or shape', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const fn = context.evalSync('(function (...a) { return a.length + ":" + a.map(String).join() })', { reference: true });
  for (let n = 0; n <= 7; n++) {
    const args = Array.from({ length: n }, (_, i) => i * 10);
    assert.equal(fn.applySync(undefined, args), `${n}:${args.join()}`);
  }
  assert.equal(fn.applySync(undefined, [, 1, , 3]), '4:undefined,1,undefined,3', 'holes are undefined');
  let reads = 0;
  const withGetter = [1, 2];
  Object.defineProperty(withGetter, 1, { get: () => (reads++, 'got') });
  assert.equal(fn.applySync(undefined, withGetter), '2:1,got');
  assert.equal(reads, 1, 'a getter on an element runs once');
  assert.throws(() => fn.applySync(undefined, { length: 2, 0: 1, 1: 2 }), {
    name: 'TypeError', message: '`undefined` requires parameter 2 to be an array',
  });
  assert.throws(() => fn.applySync(undefined, new Proxy([1, 2], {})), {
    name: 'TypeError', message: '`undefined` requires parameter 2 to be an array',
  });
  assert.throws(() => fn.applySync(undefined, [{}]), { name: 'TypeError', message: 'A non-transferable value was passed' });
  assert.equal(fn.applySync(undefined, [{ a: 1 }], { arguments: { copy: true } }), '1:[object Object]');
  const strict = context.evalSync('(function () { "use strict"; return this === null ? "null" : typeof this })', { reference: true });
  assert.equal(strict.applySync(null, []), 'null', 'a null receiver is passed on (isolated-vm 5.0.4 does)');
  assert.equal(strict.applySync(undefined, []), 'undefined');
  assert.equal(strict.applySync(5, [1, 2]), 'number');
  isolate.dispose();
});

test('compile options are read once each, in order; a throwing getter throws from sync methods and rejects async ones', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const recording = (seen, values = {}) => new Proxy({}, { get: (_, k) => (seen.push(k), values[k]) });
  const script = [];
  const compiled = isolate.compileScriptSync('x + 1', recording(script, { filename: 'file:///s.js', lineOffset: 2 }));
  assert.deepEqual(script, ['filename', 'lineOffset', 'columnOffset', 'cachedData', 'produceCachedData']);
  context.evalSync('globalThis.x = 1');
  assert.equal(compiled.runSync(context), 2);
  const module = [];
  await isolate.compileModule('export default 1', recording(module));
  assert.deepEqual(module, ['filename', 'lineOffset', 'columnOffset', 'cachedData', 'produceCachedData', 'meta']);
  // The filename read in advance reaches the stack trace.
  const thrower = isolate.compileScriptSync('throw new Error("x")', recording([], { filename: 'file:///t.js', lineOffset: 9 }));
  assert.throws(() => thrower.runSync(context), (e) => /file:\/\/\/t\.js:10/.test(e.stack));
  const boom = new Error('getter');
  const throwing = { get filename() { throw boom; } };
  for (const name of ['compileScriptSync', 'compileModuleSync']) {
    assert.throws(() => isolate[name]('1', throwing), (e) => e === boom);
  }
  for (const name of ['compileScript', 'compileModule']) {
    let promise;
    assert.doesNotThrow(() => { promise = isolate[name]('1', throwing); });
    await assert.rejects(promise, (e) => e === boom);
  }
  // A bad option's own error is unchanged.
  assert.throws(() => isolate.compileScriptSync('1', { cachedData: 'x' }), { name: 'TypeError', message: '`cachedData` must be an object' });
  await assert.rejects(isolate.compileModule('1', { meta: 1 }), { name: 'TypeError', message: '`meta` must be a function' });
  assert.deepEqual(
    ['compileScriptSync', 'compileScript', 'compileModuleSync', 'compileModule'].map((n) => [ivm.Isolate.prototype[n].name, Object.getOwnPropertyDescriptor(ivm.Isolate.prototype, n).writable]),
    [['compileScriptSync', false], ['compileScript', false], ['compileModuleSync', false], ['compileModule', false]]);
  isolate.dispose();
});
