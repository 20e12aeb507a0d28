// ES modules from the host (SPEC §1.2 "Module", §1.3 CompileModuleOptions, §2.4, §2.9):
// compileModule → instantiate(context, resolver) → evaluate → namespace, plus the two
// post-5.0.4 additions from upstream PRs #567 (`importModuleDynamically`) and #568
// (`evaluate({ promise: true })`).
//
// Checked against isolated-vm 5.0.4 except the tests with a comment: "5.0.4: ..." marks a
// behaviour 5.0.4 gets wrong (a crash or a bug), "NEW" an API 5.0.4 does not have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

function setup(options) {
  const isolate = new ivm.Isolate(options);
  const context = isolate.createContextSync();
  return { isolate, context };
}

// A resolver that serves modules from a map and records (specifier, referrer name) pairs.
function mapResolver(byName) {
  const names = new Map(Object.entries(byName).map(([name, module]) => [module, name]));
  const calls = [];
  const resolve = (specifier, referrer) => {
    calls.push(`${specifier}<${names.get(referrer) ?? '?'}`);
    return byName[specifier];
  };
  return { resolve, calls };
}

// Lets some time pass on the host, so a guest that was going to settle something has done so.
const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

test('dependencySpecifiers lists the static imports in source order, once each', () => {
  const { isolate } = setup();
  const module = isolate.compileModuleSync(`
    import a from './a.js';
    import { b } from './b.js';
    export * from './a.js';
    import './c.js';
    export { x } from "./d.js";
    import * as e from './e.js';
    import { b as b2 } from './b.js';
    export const y = 1;
    export const lazy = () => import('./dynamic.js');
  `);
  assert.deepEqual(module.dependencySpecifiers, ['./a.js', './b.js', './c.js', './d.js', './e.js']);
  assert.deepEqual(isolate.compileModuleSync('export default 1').dependencySpecifiers, []);
  // No cached-data options: no cached-data properties.
  assert.equal(module.cachedData, undefined);
  assert.equal(Object.hasOwn(module, 'cachedData'), false);
  assert.equal(Object.hasOwn(module, 'cachedDataRejected'), false);
  isolate.dispose();
});

test('compileModuleSync, instantiateSync, evaluateSync, namespace', () => {
  const { isolate, context } = setup();
  const math = isolate.compileModuleSync(
    'export const PI = 3; export default function area(r) { return PI * r * r }', { filename: 'file:///math.mjs' });
  const main = isolate.compileModuleSync(`
    import area, { PI } from './math.mjs';
    export const result = area(2) + PI;
    globalThis.runs = (globalThis.runs || 0) + 1;
  `, { filename: 'file:///main.mjs' });
  const seen = [];
  assert.equal(main.instantiateSync(context, (specifier, referrer) => {
    seen.push([specifier, referrer === main]);
    return math;
  }), undefined);
  assert.deepEqual(seen, [['./math.mjs', true]], 'the referrer is the very Module object');
  assert.equal(context.evalSync('typeof runs'), 'undefined', 'instantiate does not run the module');
  assert.equal(main.evaluateSync(), undefined);
  assert.equal(context.evalSync('runs'), 1);
  const ns = main.namespace;
  assert.ok(ns instanceof ivm.Reference);
  assert.equal(ns.typeof, 'object');
  assert.equal(ns.getSync('result'), 15);
  assert.equal(main.evaluateSync(), undefined, 'a second evaluate is allowed');
  assert.equal(context.evalSync('runs'), 1, 'and does not run the module again');
  isolate.dispose();
});

test('compileModule, instantiate with a promise-returning resolver, evaluate, namespace.get', async () => {
  const { isolate, context } = setup();
  const root = await isolate.compileModule('import x from "x"; import y from "y"; import z from "z"; export default x + y + z;');
  const x = await isolate.compileModule('export default 40');
  const y = await isolate.compileModule('export default 1');
  const z = await isolate.compileModule('export default 1');
  const later = (module, ms) => new Promise((resolve) => setTimeout(() => resolve(module), ms));
  const instantiated = root.instantiate(context, (specifier, referrer) => {
    assert.equal(referrer, root);
    if (specifier === 'x') return later(x, 20);
    if (specifier === 'y') return { then: (resolve) => resolve(y) }; // a thenable
    return z; // a plain Module is fine too
  });
  assert.ok(instantiated instanceof Promise);
  assert.equal(await instantiated, undefined);
  const evaluated = root.evaluate();
  assert.ok(evaluated instanceof Promise);
  assert.equal(await evaluated, undefined);
  assert.equal(await root.namespace.get('default'), 42);
  isolate.dispose();
});

test('namespace exports: default, functions, objects, live bindings; the namespace is read-only', async () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync(`
    export default 7;
    export let count = 0;
    export function inc() { return ++count; }
    export const config = { unit: 'cm', sizes: [1, 2] };
  `);
  module.instantiateSync(context, () => {});
  module.evaluateSync();
  const ns = module.namespace;
  assert.equal(ns.getSync('default'), 7, 'exports are accessors on the namespace and need no `accessors` option');
  assert.equal(ns.getSync('nope'), undefined);
  const inc = ns.getSync('inc');
  assert.equal(typeof inc, 'function');
  assert.equal(inc(), 1);
  assert.equal(inc(), 2);
  assert.equal(ns.getSync('count'), 2, 'bindings are live');
  assert.equal(await ns.get('count'), 2);
  const config = ns.getSync('config');
  assert.ok(config instanceof ivm.Reference);
  assert.deepEqual(ns.getSync('config', { copy: true }), { unit: 'cm', sizes: [1, 2] });
  assert.equal(config.getSync('unit'), 'cm');
  assert.throws(() => ns.setSync('default', 5), TypeError, 'namespace properties cannot be redefined');
  assert.equal(ns.getSync('default'), 7);
  assert.throws(() => ns.deref(), { name: 'TypeError', message: 'Cannot dereference this from current isolate' });
  isolate.dispose();
});

test('the resolver is called once per dependency of every module reached; a shared module runs once', async () => {
  for (const flavour of ['sync', 'async']) {
    const { isolate, context } = setup();
    const root = isolate.compileModuleSync('import "l"; import "r"; import "l"; export default globalThis.count;');
    const l = isolate.compileModuleSync('import "shared"; export const l = 1;');
    const r = isolate.compileModuleSync('import "shared"; export const r = 1;');
    const shared = isolate.compileModuleSync('globalThis.count = (globalThis.count || 0) + 1;');
    const { resolve, calls } = mapResolver({ root, l, r, shared });
    if (flavour === 'sync') root.instantiateSync(context, resolve);
    else await root.instantiate(context, (...args) => Promise.resolve(resolve(...args)));
    assert.deepEqual(calls.sort(), ['l<root', 'r<root', 'shared<l', 'shared<r'], flavour);
    if (flavour === 'sync') root.evaluateSync();
    else await root.evaluate();
    assert.equal(root.namespace.getSync('default'), 1, flavour);
    isolate.dispose();
  }
});

test('cyclic graphs: a imports b imports a', async () => {
  for (const flavour of ['sync', 'async']) {
    const { isolate, context } = setup();
    const a = isolate.compileModuleSync('import { b } from "b"; export const a = "A"; export const viaB = () => b;');
    const b = isolate.compileModuleSync('import { a } from "a"; export const b = "B"; export const viaA = () => a;');
    const { resolve, calls } = mapResolver({ a, b });
    if (flavour === 'sync') {
      a.instantiateSync(context, resolve);
      a.evaluateSync();
    } else {
      await a.instantiate(context, async (...args) => resolve(...args));
      await a.evaluate();
    }
    assert.deepEqual(calls.sort(), ['a<b', 'b<a'], flavour);
    assert.equal(a.namespace.getSync('a'), 'A');
    assert.equal(a.namespace.getSync('viaB')(), 'B');
    isolate.dispose();
  }
});

// 5.0.4: evaluating a dependency through its own handle after the root crashes the process
// (the dependency never learnt its context).
test('a dependency reached through the root can be evaluated through its own handle afterwards', () => {
  const { isolate, context } = setup();
  const a = isolate.compileModuleSync('import { b } from "b"; export const a = "A";');
  const b = isolate.compileModuleSync('import { a } from "a"; export const b = "B"; globalThis.bRuns = (globalThis.bRuns || 0) + 1;');
  a.instantiateSync(context, (specifier) => (specifier === 'a' ? a : b));
  a.evaluateSync();
  assert.equal(b.evaluateSync(), undefined);
  assert.equal(b.namespace.getSync('b'), 'B');
  assert.equal(context.evalSync('bRuns'), 1, 'the dependency ran once');
  isolate.dispose();
});

test('instantiating twice is a no-op: the resolver is not called again', async () => {
  const { isolate, context } = setup();
  const dep = isolate.compileModuleSync('export default 1');
  const module = isolate.compileModuleSync('import d from "d"; export default d + 1');
  module.instantiateSync(context, () => dep);
  const never = () => { throw new Error('resolver called again'); };
  assert.equal(module.instantiateSync(context, never), undefined);
  assert.equal(await module.instantiate(context, never), undefined);
  module.evaluateSync();
  assert.equal(module.instantiateSync(context, never), undefined);
  assert.equal(module.namespace.getSync('default'), 2);
  isolate.dispose();
});

test('evaluate before instantiate; namespace before evaluate', async () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync('export default 1');
  assert.throws(() => module.evaluateSync(), { name: 'Error', message: 'Module is uninstantiated' });
  await assert.rejects(module.evaluate(), { name: 'Error', message: 'Module is uninstantiated' });
  assert.throws(() => module.namespace, { name: 'Error', message: 'Module has not been instantiated.' });
  module.instantiateSync(context, () => {});
  assert.throws(() => module.namespace, { name: 'Error', message: 'Module has not been instantiated.' },
    'the namespace appears with evaluate, not instantiate');
  module.evaluateSync();
  assert.equal(module.namespace.getSync('default'), 1);
  isolate.dispose();
});

test('a module that throws while evaluating fails the evaluate call with its error', async () => {
  const { isolate, context } = setup();
  const failing = (code, options) => {
    const module = isolate.compileModuleSync(code, options);
    module.instantiateSync(context, () => {});
    return module;
  };
  assert.throws(() => failing('throw new TypeError("bad module")').evaluateSync(), { name: 'TypeError', message: 'bad module' });
  await assert.rejects(failing('throw new RangeError("bad async")').evaluate(), { name: 'RangeError', message: 'bad async' });
  assert.throws(() => failing('throw { a: 1 }').evaluateSync(), {
    name: 'Error',
    message: 'An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.',
  });
  assert.throws(() => failing('throw "plain"').evaluateSync(), (e) => e === 'plain', 'primitives arrive unchanged');
  // The origin options reach the stack of a module's error.
  const located = failing('\n\nthrow new Error("where")', { filename: 'file:///where.mjs', lineOffset: 5 });
  assert.throws(() => located.evaluateSync(), (e) => e.stack.includes('file:///where.mjs:8:7'));
  const column = failing('throw new Error("col")', { filename: 'file:///col.mjs', lineOffset: 5, columnOffset: 3 });
  assert.throws(() => column.evaluateSync(), (e) => e.stack.includes('file:///col.mjs:6:10'));
  assert.equal(context.evalSync('1 + 1'), 2, 'the context is still usable');
  isolate.dispose();
});

test('evaluate with a timeout', async () => {
  const { isolate, context } = setup();
  const looping = () => {
    const module = isolate.compileModuleSync('for (;;) {}');
    module.instantiateSync(context, () => {});
    return module;
  };
  assert.throws(() => looping().evaluateSync({ timeout: 20 }), { name: 'Error', message: 'Script execution timed out.' });
  await assert.rejects(looping().evaluate({ timeout: 20 }), { name: 'Error', message: 'Script execution timed out.' });
  const quick = isolate.compileModuleSync('export default 5');
  quick.instantiateSync(context, () => {});
  assert.equal(quick.evaluateSync({ timeout: 1000 }), undefined);
  assert.equal(quick.namespace.getSync('default'), 5, 'the isolate is usable after a timeout');
  isolate.dispose();
});

test('compile errors are SyntaxErrors with the location', async () => {
  const { isolate } = setup();
  assert.throws(() => isolate.compileModuleSync('export default ;;;', { filename: 'file:///m.js' }),
    { name: 'SyntaxError', message: "Unexpected token ';' [file:///m.js:1:16]" });
  await assert.rejects(isolate.compileModule('export default ;;;', { filename: 'file:///m.js', lineOffset: 10 }),
    { name: 'SyntaxError', message: "Unexpected token ';' [file:///m.js:11:16]" });
  assert.throws(() => isolate.compileModuleSync('import x from "a"; import x from "b";', { filename: 'file:///d.js' }),
    { name: 'SyntaxError', message: "Identifier 'x' has already been declared [file:///d.js:1:20]" });
  assert.throws(() => isolate.compileModuleSync('await;'), SyntaxError, 'modules are parsed as modules');
  assert.throws(() => isolate.compileModuleSync('with ({}) {}'), SyntaxError, 'modules are strict');
  isolate.dispose();
});

test('the resolver returns something other than a Module: TypeError, and a later instantiate works', async () => {
  const { isolate, context } = setup();
  const dep = isolate.compileModuleSync('export default 2');
  const junk = [undefined, null, 5, 'dep', {}, new ivm.Reference(1), isolate.compileScriptSync('1'), context];
  for (const value of junk) {
    const module = isolate.compileModuleSync('import d from "d"; export default d * 21');
    assert.throws(() => module.instantiateSync(context, () => value),
      { name: 'TypeError', message: 'Resolved dependency was not `Module`' }, String(value));
    module.instantiateSync(context, () => dep);
    module.evaluateSync();
    assert.equal(module.namespace.getSync('default'), 42);
  }
  for (const resolver of [() => 5, async () => 'dep', () => Promise.resolve({}), () => ({ then: (resolve) => resolve(null) })]) {
    const module = isolate.compileModuleSync('import d from "d"; export default d * 21');
    await assert.rejects(module.instantiate(context, resolver), { name: 'TypeError', message: 'Resolved dependency was not `Module`' });
    await module.instantiate(context, async () => dep);
    await module.evaluate();
    assert.equal(await module.namespace.get('default'), 42);
  }
  isolate.dispose();
});

test('a throwing or rejecting resolver fails the call, and a later instantiate works', async () => {
  const { isolate, context } = setup();
  const a = isolate.compileModuleSync('export default 1');
  const b = isolate.compileModuleSync('export default 2');
  const good = (specifier) => (specifier === 'a' ? a : b);
  const root = () => isolate.compileModuleSync('import a from "a"; import b from "b"; export default a + b');

  const syncThrow = root();
  assert.throws(() => syncThrow.instantiateSync(context, (s) => { if (s === 'b') throw new RangeError('no b'); return a; }),
    { name: 'RangeError', message: 'no b' });
  syncThrow.instantiateSync(context, good);
  syncThrow.evaluateSync();
  assert.equal(syncThrow.namespace.getSync('default'), 3);

  const rejecting = root();
  await assert.rejects(rejecting.instantiate(context, async (s) => { if (s === 'b') throw new RangeError('later no b'); return a; }),
    { name: 'RangeError', message: 'later no b' });
  await rejecting.instantiate(context, good);
  await rejecting.evaluate();
  assert.equal(await rejecting.namespace.get('default'), 3);

  const slowReject = root();
  await assert.rejects(slowReject.instantiate(context, (s) => new Promise((resolve, reject) =>
    setTimeout(() => (s === 'a' ? resolve(a) : reject(new Error('slow no'))), 10))), { message: 'slow no' });
  await slowReject.instantiate(context, good);
  await slowReject.evaluate();
  assert.equal(await slowReject.namespace.get('default'), 3);
  isolate.dispose();
});

// 5.0.4: the async instantiate throws synchronously, leaves the module "currently being linked
// by another linker" (fixed upstream in #559, test module-resolve-throws.js), and this test
// crashes the process.
test('instantiate (async) with a resolver that throws synchronously rejects, and a later instantiate works', async () => {
  const { isolate, context } = setup();
  const a = isolate.compileModuleSync('export default 1');
  const b = isolate.compileModuleSync('export default 2');
  const root = isolate.compileModuleSync('import a from "a"; import b from "b"; export default a + b');
  let p;
  assert.doesNotThrow(() => {
    p = root.instantiate(context, (s) => { if (s === 'b') throw new RangeError('boom'); return a; });
  });
  await assert.rejects(p, { name: 'RangeError', message: 'boom' });
  await root.instantiate(context, (s) => (s === 'a' ? a : b));
  await root.evaluate();
  assert.equal(root.namespace.getSync('default'), 3);
  isolate.dispose();
});

test('a link error (missing export) fails instantiate; the module stays uninstantiated', async () => {
  const { isolate, context } = setup();
  const dep = isolate.compileModuleSync('export const other = 1');
  const module = isolate.compileModuleSync('import { nope } from "a"; export default nope');
  assert.throws(() => module.instantiateSync(context, () => dep),
    (e) => e instanceof SyntaxError && /does not provide an export named 'nope'/.test(e.message));
  assert.throws(() => module.evaluateSync(), { message: 'Module is uninstantiated' });
  const asyncDep = isolate.compileModuleSync('export const other = 1');
  const asyncModule = isolate.compileModuleSync('import { nope } from "a"; export default nope');
  await assert.rejects(asyncModule.instantiate(context, async () => asyncDep),
    (e) => e instanceof SyntaxError && /does not provide an export named 'nope'/.test(e.message));
  await assert.rejects(asyncModule.evaluate(), { message: 'Module is uninstantiated' });
  isolate.dispose();
});

// 5.0.4: after a failed link the module is stuck "currently being linked by another linker".
test('after a link error a later instantiate with a good resolver works', () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync('import { nope } from "a"; export default nope');
  assert.throws(() => module.instantiateSync(context, () => isolate.compileModuleSync('export const other = 1')), SyntaxError);
  module.instantiateSync(context, () => isolate.compileModuleSync('export const nope = 9'));
  module.evaluateSync();
  assert.equal(module.namespace.getSync('default'), 9);
  isolate.dispose();
});

test('a module only instantiates in a context of its own isolate', async () => {
  const { isolate } = setup();
  const other = new ivm.Isolate();
  const otherContext = other.createContextSync();
  assert.throws(() => isolate.compileModuleSync('export default 1').instantiateSync(otherContext, () => {}),
    { name: 'Error', message: 'Invalid context' });
  await assert.rejects(isolate.compileModuleSync('export default 1').instantiate(otherContext, () => {}),
    { name: 'Error', message: 'Invalid context' });
  isolate.dispose();
  other.dispose();
});

// 5.0.4: accepts the foreign module silently (V8 then links modules of two isolates).
test('a resolver returning a module of another isolate fails cleanly', async () => {
  const { isolate, context } = setup();
  const other = new ivm.Isolate();
  const foreign = other.compileModuleSync('export default 1');
  const local = isolate.compileModuleSync('export default 2');
  const module = isolate.compileModuleSync('import d from "d"; export default d');
  assert.throws(() => module.instantiateSync(context, () => foreign), Error);
  await assert.rejects(module.instantiate(context, () => foreign), Error);
  await assert.rejects(module.instantiate(context, async () => foreign), Error);
  module.instantiateSync(context, () => local);
  module.evaluateSync();
  assert.equal(module.namespace.getSync('default'), 2);
  isolate.dispose();
  other.dispose();
});

test('argument errors of the synchronous methods', () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync('export default 1');
  assert.throws(() => isolate.compileModuleSync(), { name: 'TypeError', message: '`undefined` requires at least 1 parameter' });
  assert.throws(() => isolate.compileModuleSync(5), { name: 'TypeError', message: '`undefined` requires parameter 1 to be a string' });
  assert.throws(() => isolate.compileModuleSync({}), { name: 'TypeError', message: '`undefined` requires parameter 1 to be a string' });
  assert.throws(() => isolate.compileModuleSync('1', { meta: 5 }), { name: 'TypeError', message: '`meta` must be a function' });
  assert.throws(() => module.instantiateSync(context), { name: 'TypeError', message: '`undefined` requires at least 2 parameters' });
  assert.throws(() => module.instantiateSync(context, 5), { name: 'TypeError', message: '`undefined` requires parameter 2 to be a function' });
  assert.throws(() => module.instantiateSync({}, () => {}), (e) => e instanceof TypeError && /requires parameter 1 to be/.test(e.message));
  assert.throws(() => module.instantiateSync(isolate, () => {}), TypeError, 'an Isolate is not a Context');
  assert.throws(() => module.evaluateSync({ timeout: 'x' }), { name: 'TypeError', message: '`timeout` must be a 32-bit number' });
  // Nothing was damaged.
  module.instantiateSync(context, () => {});
  module.evaluateSync();
  assert.equal(module.namespace.getSync('default'), 1);
  isolate.dispose();
});

// The convention of dropin.test.mjs (item 6) for the module methods: an argument-type error of
// the signature throws synchronously, as in 5.0.4 and as compileScript/eval do; every other error
// of an async method (options, state) rejects its promise.
// 5.0.4: throws the last three synchronously too.
test('async module methods: argument-type errors throw, other errors reject', async () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync('export default 1');
  const released = isolate.compileModuleSync('export default 1');
  released.release();
  const settle = (fn) => {
    let p;
    try { p = fn(); } catch (e) { return `threw ${e.constructor.name}: ${e.message}`; }
    assert.ok(p instanceof Promise);
    return p.then(() => 'resolved', (e) => `rejected ${e.constructor.name}: ${e.message}`);
  };
  assert.deepEqual(await Promise.all([
    settle(() => isolate.compileModule(5)),
    settle(() => isolate.compileModule()),
    settle(() => module.instantiate(context, 5)),
    Promise.resolve(settle(() => module.instantiate({}, () => {}))).then((s) => s.replace(/ to be .*/, '')),
    settle(() => module.evaluate({ timeout: 'x' })), // 5.0.4: throws
    settle(() => released.evaluate()), // 5.0.4: throws
    settle(() => released.instantiate(context, () => {})), // 5.0.4: throws
  ]), [
    'threw TypeError: `undefined` requires parameter 1 to be a string',
    'threw TypeError: `undefined` requires at least 1 parameter',
    'threw TypeError: `undefined` requires parameter 2 to be a function',
    'threw TypeError: `undefined` requires parameter 1',
    'rejected TypeError: `timeout` must be a 32-bit number',
    'rejected Error: Module has been released',
    'rejected Error: Module has been released',
  ]);
  isolate.dispose();
});

test('release(): later use throws "Module has been released"; other handles and namespaces live on', async () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync('export default 1');
  assert.equal(module.release(), undefined);
  assert.equal(module.release(), undefined, 'a second release is harmless');
  assert.throws(() => module.instantiateSync(context, () => {}), { name: 'Error', message: 'Module has been released' });
  assert.throws(() => module.evaluateSync(), { name: 'Error', message: 'Module has been released' });
  await assert.rejects(async () => module.evaluate(), { name: 'Error', message: 'Module has been released' });
  await assert.rejects(async () => module.instantiate(context, () => {}), { name: 'Error', message: 'Module has been released' });

  // Releasing a dependency after linking does not break its importer.
  const dep = isolate.compileModuleSync('export const v = 9');
  const root = isolate.compileModuleSync('import { v } from "d"; export default v * 2');
  root.instantiateSync(context, () => dep);
  dep.release();
  root.evaluateSync();
  // A namespace Reference outlives the handle of its module.
  const ns = root.namespace;
  root.release();
  assert.equal(ns.getSync('default'), 18);
  isolate.dispose();
});

// 5.0.4: both accessors dereference the released handle and crash the process.
test('release(): namespace and dependencySpecifiers throw afterwards', () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync('import "x"; export default 1');
  module.instantiateSync(context, () => isolate.compileModuleSync(''));
  module.evaluateSync();
  module.release();
  assert.throws(() => module.namespace, { name: 'Error', message: 'Module has been released' }, 'namespace');
  assert.throws(() => module.dependencySpecifiers, { name: 'Error', message: 'Module has been released' }, 'dependencySpecifiers');
  isolate.dispose();
});

test('disposing the isolate inside a resolver fails the instantiate, never crashes', async () => {
  {
    const { isolate, context } = setup();
    const module = isolate.compileModuleSync('import a from "a"');
    const dep = isolate.compileModuleSync('export default 1');
    await assert.rejects(module.instantiate(context, async () => { isolate.dispose(); return dep; }),
      (e) => e instanceof Error && /disposed/.test(e.message));
  }
  {
    const { isolate, context } = setup();
    const module = isolate.compileModuleSync('import a from "a"; import b from "b"');
    const dep = isolate.compileModuleSync('export default 1');
    await assert.rejects(module.instantiate(context, (s) => new Promise((resolve) => setTimeout(() => {
      if (s === 'b') isolate.dispose();
      resolve(dep);
    }, s === 'a' ? 5 : 15))), (e) => e instanceof Error && /disposed/.test(e.message));
  }
  {
    const { isolate, context } = setup();
    const module = isolate.compileModuleSync('import a from "a"');
    const dep = isolate.compileModuleSync('export default 1');
    assert.throws(() => module.instantiateSync(context, () => { isolate.dispose(); return dep; }),
      (e) => e instanceof Error && /disposed/.test(e.message));
    assert.throws(() => module.evaluateSync(), /disposed/);
    await assert.rejects(async () => module.evaluate(), /disposed/);
    assert.throws(() => isolate.compileModuleSync('export default 1'), /disposed/);
    await assert.rejects(isolate.compileModule('export default 1'), /disposed/);
  }
});

// 5.0.4: specifiers are decoded as Latin-1 (fixed upstream, test module-specifier-utf8.js).
test('non-ASCII specifiers reach dependencySpecifiers and the resolver intact', async () => {
  const { isolate, context } = setup();
  const specifier = './café-中-😀.js';
  const root = isolate.compileModuleSync(`import value from '${specifier}'; export default value;`);
  assert.deepEqual(root.dependencySpecifiers, [specifier]);
  await root.instantiate(context, (received) => {
    assert.equal(received, specifier);
    return isolate.compileModuleSync('export default 42');
  });
  await root.evaluate();
  assert.equal(root.namespace.getSync('default'), 42);
  isolate.dispose();
});

test('import.meta: a `meta` callback from the host is refused; without one import.meta is empty', async () => {
  const { isolate, context } = setup();
  const meta = (m) => { m.url = 'file:///x.mjs'; };
  assert.throws(() => isolate.compileModuleSync('export default import.meta.url', { meta }),
    { name: 'Error', message: '`meta` callback must belong to entered isolate' });
  await assert.rejects(isolate.compileModule('export default import.meta.url', { meta }),
    { name: 'Error', message: '`meta` callback must belong to entered isolate' });
  const module = isolate.compileModuleSync('export default Object.keys(import.meta).length + ":" + typeof import.meta');
  module.instantiateSync(context, () => {});
  module.evaluateSync();
  assert.equal(module.namespace.getSync('default'), '0:object');
  isolate.dispose();
});

test('top-level await: evaluate settles at the first await (without promise: true)', async () => {
  const { isolate, context } = setup();
  for (const flavour of ['sync', 'async']) {
    const module = isolate.compileModuleSync(`
      export let stage = 'started';
      await new Promise((resolve) => { globalThis.wake = resolve; });
      stage = 'finished';
    `);
    module.instantiateSync(context, () => {});
    assert.equal(flavour === 'sync' ? module.evaluateSync() : await module.evaluate(), undefined);
    assert.equal(module.namespace.getSync('stage'), 'started', flavour);
    context.evalSync('wake()');
    assert.equal(module.namespace.getSync('stage'), 'finished', flavour);
  }
  isolate.dispose();
});

// NEW (not in 5.0.4; upstream PR #568): evaluate({ promise: true }).
test('evaluate({ promise: true }) settles when a top-level-await module finishes', async () => {
  const { isolate, context } = setup();
  const compile = (code) => {
    const module = isolate.compileModuleSync(code);
    module.instantiateSync(context, () => {});
    return module;
  };
  // No await: resolves right away, with undefined.
  const plain = compile('globalThis.plainRan = true;');
  assert.equal(await plain.evaluate({ promise: true }), undefined);
  assert.equal(context.evalSync('plainRan'), true);

  // With await: resolves only after the module finished.
  const waiting = compile('await new Promise((resolve) => { globalThis.wake1 = resolve; }); globalThis.finished1 = true;');
  let settled = false;
  const done = waiting.evaluate({ promise: true }).then((value) => { settled = true; return value; });
  await tick(50);
  assert.equal(settled, false, 'still waiting for the module');
  assert.equal(context.evalSync('typeof finished1'), 'undefined');
  await context.eval('wake1()');
  assert.equal(await done, undefined);
  assert.equal(context.evalSync('finished1'), true);
  assert.equal(waiting.namespace.typeof, 'object');

  // Throwing after an await rejects with the module's error.
  const late = compile('await new Promise((resolve) => { globalThis.wake2 = resolve; }); throw new RangeError("late failure");');
  const lateDone = late.evaluate({ promise: true });
  lateDone.catch(() => {});
  await tick();
  await context.eval('wake2()');
  await assert.rejects(lateDone, { name: 'RangeError', message: 'late failure' });

  // Throwing before any await rejects too.
  await assert.rejects(compile('throw new TypeError("early failure")').evaluate({ promise: true }),
    { name: 'TypeError', message: 'early failure' });

  // The timeout still bounds the synchronous part.
  await assert.rejects(compile('for (;;) {}').evaluate({ promise: true, timeout: 20 }), { message: 'Script execution timed out.' });

  // An awaited dependency: the importer finishes after it.
  const dep = isolate.compileModuleSync('export let v = 0; await new Promise((resolve) => { globalThis.wake3 = resolve; }); v = 5;');
  const root = isolate.compileModuleSync('import { v } from "dep"; export const doubled = v * 2;');
  root.instantiateSync(context, () => dep);
  const rootDone = root.evaluate({ promise: true });
  await tick();
  context.evalSync('wake3()');
  assert.equal(await rootDone, undefined);
  assert.equal(root.namespace.getSync('doubled'), 10);
  isolate.dispose();
});

// NEW (PR #568).
test('evaluate({ promise: true }) of a module that never finishes rejects when the isolate is disposed', async () => {
  const { isolate, context } = setup();
  const module = isolate.compileModuleSync('await new Promise(() => {});');
  module.instantiateSync(context, () => {});
  const done = module.evaluate({ promise: true });
  done.catch(() => {});
  await tick();
  isolate.dispose();
  await assert.rejects(done, Error);
});

test('dynamic import() without importModuleDynamically rejects with "Not supported"', async () => {
  const { isolate, context } = setup();
  await assert.rejects(context.eval('import("./x.js")', { promise: true }), { name: 'Error', message: 'Not supported' });
  const module = isolate.compileModuleSync('export const p = import("./y.js").then(() => "loaded", (e) => e.constructor.name + ":" + e.message);');
  module.instantiateSync(context, () => {});
  module.evaluateSync();
  assert.equal(await module.namespace.getSync('p', { promise: true }), 'Error:Not supported');
  isolate.dispose();
});

// NEW (not in 5.0.4; upstream PR #567): the `importModuleDynamically` isolate option.
test('importModuleDynamically: import() in the guest resolves with the namespace of the module the host returns', async () => {
  const modules = new Map();
  const seen = [];
  const { isolate, context } = setup({
    importModuleDynamically(specifier, referrer) {
      seen.push([specifier, referrer]);
      return modules.get(specifier);
    },
  });
  const greeting = isolate.compileModuleSync('export const message = "hello"; export default (name) => "hi " + name;',
    { filename: 'file:///greeting.js' });
  greeting.instantiateSync(context, () => {});
  greeting.evaluateSync();
  modules.set('./greeting.js', greeting);

  assert.equal(await context.eval('import("./greeting.js").then((ns) => ns.message)', { promise: true }), 'hello');
  assert.deepEqual(seen.at(-1), ['./greeting.js', '<isolated-vm>'], 'the default filename is the referrer of eval code');
  assert.equal(await context.eval('import("./greeting.js").then((ns) => ns.default("you"))', { promise: true, filename: 'file:///caller.js' }), 'hi you');
  assert.deepEqual(seen.at(-1), ['./greeting.js', 'file:///caller.js']);
  assert.equal(await context.eval('Promise.all([import("./greeting.js"), import("./greeting.js")]).then(([a, b]) => a === b)', { promise: true }),
    true, 'the same namespace object every time');

  // A module's import() passes the module's filename; the module gets the live namespace.
  const main = isolate.compileModuleSync('export const load = () => import("./greeting.js").then((ns) => ns.message + "!");',
    { filename: 'file:///main.js' });
  main.instantiateSync(context, () => {});
  main.evaluateSync();
  const load = main.namespace.getSync('load', { reference: true });
  assert.equal(await load.apply(undefined, [], { result: { promise: true } }), 'hello!');
  assert.deepEqual(seen.at(-1), ['./greeting.js', 'file:///main.js']);

  // A specifier reaches the hook exactly as written.
  modules.set('./café-中.js', greeting);
  assert.equal(await context.eval('import("./café-中.js").then((ns) => ns.message)', { promise: true }), 'hello');
  assert.deepEqual(seen.at(-1), ['./café-中.js', '<isolated-vm>']);
  isolate.dispose();
});

// NEW (PR #567).
test('importModuleDynamically may answer with a promise; import() evaluates an instantiated module if needed', async () => {
  const modules = new Map();
  const { isolate, context } = setup({ importModuleDynamically: (specifier) => modules.get(specifier) });
  const later = isolate.compileModuleSync('export const name = "later";');
  later.instantiateSync(context, () => {});
  later.evaluateSync();
  modules.set('./later.js', new Promise((resolve) => setTimeout(() => resolve(later), 20)));
  assert.equal(await context.eval('import("./later.js").then((ns) => ns.name)', { promise: true }), 'later');

  const fresh = isolate.compileModuleSync('globalThis.freshRuns = (globalThis.freshRuns || 0) + 1; export const name = "fresh";');
  fresh.instantiateSync(context, () => {});
  modules.set('./fresh.js', fresh);
  assert.equal(context.evalSync('typeof freshRuns'), 'undefined');
  assert.equal(await context.eval('import("./fresh.js").then((ns) => ns.name)', { promise: true }), 'fresh');
  assert.equal(await context.eval('import("./fresh.js").then((ns) => ns.name)', { promise: true }), 'fresh');
  assert.equal(context.evalSync('freshRuns'), 1, 'evaluated once');
  assert.equal(fresh.namespace.getSync('name'), 'fresh');
  isolate.dispose();
});

// NEW (PR #567).
test('importModuleDynamically: a hook that throws, rejects or returns junk makes import() reject', async () => {
  const modules = new Map();
  const { isolate, context } = setup({
    importModuleDynamically(specifier) {
      if (specifier === 'throws') throw new RangeError('hook threw');
      if (specifier === 'rejects') return Promise.reject(new TypeError('hook rejected'));
      return modules.get(specifier);
    },
  });
  const outcome = (specifier) => context.eval(
    `import(${JSON.stringify(specifier)}).then(() => "resolved", (e) => (e instanceof Error) + ":" + e.constructor.name + ":" + e.message)`,
    { promise: true });
  assert.equal(await outcome('throws'), 'true:RangeError:hook threw');
  assert.equal(await outcome('rejects'), 'true:TypeError:hook rejected');
  for (const junk of [undefined, 5, {}, new ivm.Reference(1)]) {
    modules.set('junk', junk);
    assert.match(await outcome('junk'), /^true:/, String(junk));
  }
  // Not instantiated: rejected (the hook must return an instantiated module).
  modules.set('raw', isolate.compileModuleSync('export default 1'));
  assert.match(await outcome('raw'), /^true:/);
  // The module throws while evaluating: its error.
  const failing = isolate.compileModuleSync('throw new Error("module failed")');
  failing.instantiateSync(context, () => {});
  modules.set('failing', failing);
  assert.equal(await outcome('failing'), 'true:Error:module failed');
  // A module of another isolate.
  const other = new ivm.Isolate();
  const otherContext = other.createContextSync();
  const foreign = other.compileModuleSync('export default 1');
  foreign.instantiateSync(otherContext, () => {});
  foreign.evaluateSync();
  modules.set('foreign', foreign);
  assert.match(await outcome('foreign'), /^true:/);
  other.dispose();
  // The isolate still works.
  const good = isolate.compileModuleSync('export default 3');
  good.instantiateSync(context, () => {});
  modules.set('good', good);
  assert.equal(await context.eval('import("good").then((ns) => ns.default)', { promise: true }), 3);
  isolate.dispose();
});

// NEW (PR #567).
test('importModuleDynamically must be a function', () => {
  for (const value of [5, 'x', {}]) {
    assert.throws(() => {
      const isolate = new ivm.Isolate({ importModuleDynamically: value });
      isolate.dispose();
    }, TypeError, String(value));
  }
});

test('the README example of ES modules runs and prints what it says', async () => {
  const { readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### ES modules'));
  const code = section.slice(section.indexOf('```js') + 5, section.indexOf('```', section.indexOf('```js') + 5));
  assert.match(code, /compileModuleSync/);
  const file = fileURLToPath(new URL('./fixtures/.readme-modules.mjs', import.meta.url));
  writeFileSync(file, code);
  try {
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 20000 });
    assert.equal(out, 'hello module\nhello import()\n');
  } finally {
    rmSync(file, { force: true });
  }
});
