// Isolates inside isolates (SPEC §1.6, test `isolate-in-isolate.js` of isolated-vm), and
// Isolate/Context/Script handles crossing between the host and guests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

function guest() {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  return { isolate, context };
}

test('a guest creates a nested isolate and runs code in it synchronously', () => {
  const { isolate, context } = guest();
  assert.equal(context.evalSync(`
    const inner = new ivm.Isolate({ memoryLimit: 32 });
    const ctx = inner.createContextSync();
    ctx.global.setSync('x', 20);
    const script = inner.compileScriptSync('x + 22', { filename: 'inner.js' });
    [script.runSync(ctx), ctx.evalSync('typeof ivm'), inner instanceof ivm.Isolate, ctx instanceof ivm.Context,
     script instanceof ivm.Script, ctx.global instanceof ivm.Reference, typeof inner.cpuTime, inner.isDisposed].join();
  `), '42,undefined,true,true,true,true,bigint,false');
  assert.equal(context.evalSync('ctx.evalSync("({ a: 1 })") === undefined && ctx.evalSync("({ a: 1 })", { copy: true }).a'), 1);
  assert.equal(context.evalSync('ctx.evalClosureSync("return $0 + $1", [1, 2])'), 3);
  assert.equal(context.evalSync('try { ctx.evalSync("throw new RangeError(\\"inner\\")") } catch (e) { e.constructor.name + ": " + e.message }'), 'RangeError: inner');
  assert.equal(context.evalSync('try { ctx.evalSync("for(;;){}", { timeout: 20 }) } catch (e) { e.message }'), 'Script execution timed out.');
  assert.equal(context.evalSync('try { ctx.evalSync("1", { timeout: 2 ** 31 }) } catch (e) { e.message }'), '`timeout` must be a 32-bit number');
  assert.equal(context.evalSync('ctx.evalSync("1", { timeout: -1 })'), 1, 'a negative timeout is accepted, as in isolated-vm');
  assert.equal(context.evalSync('try { new ivm.Isolate({ memoryLimit: 1 }) } catch (e) { e.message }'), '`memoryLimit` must be at least 8');
  assert.equal(context.evalSync('try { ivm.Isolate() } catch (e) { e.message }'), '`Isolate` must be called with `new`');
  assert.equal(context.evalSync('try { new ivm.Context() } catch (e) { e.message }'), '`Context` constructor is private');
  assert.equal(context.evalSync('try { script.runSync({}) } catch (e) { e.message }'), '`undefined` requires parameter 1 to be something else');
  assert.equal(context.evalSync('try { script.runSync(new ivm.Isolate().createContextSync()) } catch (e) { e.message }'), 'Invalid context');
  assert.equal(context.evalSync('script.release(); try { script.runSync(ctx) } catch (e) { e.message }'), 'Script has been released');
  assert.equal(context.evalSync('[ctx.release(), ctx.release(), ctx.global].join()'), 'true,false,');
  assert.equal(context.evalSync('try { ctx.evalSync("1") } catch (e) { e.message }'), 'Context is released');
  assert.equal(context.evalSync('inner.dispose(); let m; try { inner.dispose() } catch (e) { m = e.message } m + ":" + inner.isDisposed'), 'Isolate is already disposed:true');
  // Sync calls on a disposed isolate: "Isolated is disposed" (sic), as on the host and in isolated-vm 5.0.4.
  assert.equal(context.evalSync('try { inner.createContextSync() } catch (e) { e.message }'), 'Isolated is disposed');
  isolate.dispose();
});

test('async methods of nested isolates, and SPEC §2.1 rule 4 for createContextSync', async () => {
  const { isolate, context } = guest();
  assert.equal(await context.eval(`(async () => {
    const inner = new ivm.Isolate();
    const ctx = await inner.createContext();
    const script = await inner.compileScript('1 + 1');
    const out = [await script.run(ctx), await ctx.eval('40 + 2'), await ctx.evalClosure('return $0 * 2', [21])];
    ctx.evalIgnored('globalThis.z = 5');
    out.push(await ctx.eval('z'));
    out.push(await ctx.eval('Promise.resolve(7)', { promise: true }));
    out.push(await ctx.eval('nope').catch(e => e.constructor.name));
    inner.dispose();
    return out.join();
  })()`, { promise: true }), '2,42,42,5,7,ReferenceError');
  await assert.rejects(context.eval('new ivm.Isolate().createContextSync()'), {
    message: 'Calling a synchronous isolated-vm function on a non-default isolate from within an asynchronous isolated-vm function is not allowed.',
  });
  isolate.dispose();
});

test('three levels deep: a nested isolate nests another one', () => {
  const { isolate, context } = guest();
  assert.equal(context.evalSync(`
    const mid = new ivm.Isolate();
    const midCtx = mid.createContextSync();
    midCtx.global.setSync('ivm', ivm);
    midCtx.evalSync('const deep = new ivm.Isolate(); deep.createContextSync().evalSync("6 * 7")');
  `), 42);
  isolate.dispose();
});

test('Isolate, Context and Script handles cross between the host and guests', () => {
  const { isolate, context } = guest();
  const other = new ivm.Isolate();
  const otherContext = other.createContextSync();
  context.global.setSync('other', other);
  context.global.setSync('otherContext', otherContext);
  context.global.setSync('otherScript', other.compileScriptSync('6 * 7'));
  assert.equal(context.evalSync('[other instanceof ivm.Isolate, otherScript.runSync(otherContext), otherContext.evalSync("1 + 1")].join()'), 'true,42,2');
  const back = context.evalSync('other');
  assert.ok(back instanceof ivm.Isolate);
  assert.equal(back.createContextSync().evalSync('3'), 3, 'the same isolate');
  const nestedContext = context.evalSync('globalThis.n = new ivm.Isolate(); n.createContextSync()');
  assert.ok(nestedContext instanceof ivm.Context);
  assert.equal(nestedContext.evalSync('5'), 5);
  assert.equal(nestedContext.global.typeof, 'object');
  const nested = context.evalSync('n');
  assert.equal(nested.compileScriptSync('7').runSync(nestedContext), 7);
  assert.ok(context.evalSync('n.compileScriptSync("1")') instanceof ivm.Script);
  assert.equal(context.evalSync('ivm'), ivm, 'the library comes back as itself');
  const released = other.createContextSync();
  released.release();
  assert.throws(() => context.global.setSync('x', released), { message: 'Context is released' });
  isolate.dispose();
  other.dispose();
});

test('guest classes, prototypes and handle objects are frozen', () => {
  const { isolate, context } = guest();
  assert.equal(context.evalSync(`[ivm.Reference, ivm.ExternalCopy, ivm.Callback, ivm.Isolate, ivm.Context, ivm.Script]
    .every(C => Object.isFrozen(C) && Object.isFrozen(C.prototype))`), true);
  assert.equal(context.evalSync(`[new ivm.Reference(1), new ivm.ExternalCopy(1), new ivm.Callback(() => 1), new ivm.Isolate(),
    new ivm.Isolate().createContextSync(), new ivm.Reference({}).derefInto()].every(o => Object.isFrozen(o))`), true);
  assert.equal(context.evalSync('"use strict"; try { ivm.Reference.prototype.getSync = null } catch (e) { e.constructor.name }'), 'TypeError');
  isolate.dispose();
});

test('a handle is an instance of the class of every context of the receiving isolate', () => {
  const isolate = new ivm.Isolate();
  const one = isolate.createContextSync();
  const two = isolate.createContextSync();
  one.global.setSync('ivm', ivm);
  two.global.setSync('ivm', ivm);
  two.global.setSync('r', one.evalSync('new ivm.Reference({ a: 1 })'));
  assert.equal(two.evalSync('(r instanceof ivm.Reference) + ":" + r.getSync("a")'), 'true:1');
  isolate.dispose();
});

test('host handle objects are frozen (Script and Module objects are not, as in 5.0.4); a subclass instance is frozen too', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const objects = [isolate, context, context.global, new ivm.Reference(1), new ivm.ExternalCopy(1), new ivm.Callback(() => 1),
    new ivm.Reference({}).derefInto(), new ivm.ExternalCopy(1).copyInto(), context.evalSync('({})', { reference: true })];
  assert.deepEqual(objects.map(Object.isFrozen), objects.map(() => true));
  assert.deepEqual([isolate.compileScriptSync('1'), isolate.compileModuleSync('1')].map(Object.isFrozen), [false, false]);
  // isolated-vm 5.0.4: "Cannot add property tag, object is not extensible" (class bodies are
  // strict), and a class field cannot be defined either.
  class Tagged extends ivm.Reference { constructor(v) { super(v); this.tag = 't'; } }
  assert.throws(() => new Tagged(5), { name: 'TypeError', message: 'Cannot add property tag, object is not extensible' });
  class Plain extends ivm.Reference { get twice() { return this.typeof + this.typeof; } }
  const p = new Plain(5);
  assert.ok(p instanceof Plain && p instanceof ivm.Reference && Object.isFrozen(p));
  assert.equal(p.constructor, Plain);
  assert.equal(p.twice, 'numbernumber');
  assert.equal(p.derefInto().constructor.name, 'Dereference');
  class Field extends ivm.Isolate { extra = 1; }
  assert.throws(() => new Field(), { name: 'TypeError', message: 'Cannot define property extra, object is not extensible' });
  // Each class is its prototype's constructor, as in isolated-vm.
  for (const C of [ivm.Isolate, ivm.Context, ivm.Script, ivm.Reference, ivm.ExternalCopy, ivm.Callback]) {
    assert.equal(C.prototype.constructor, C, C.name);
  }
  assert.equal(new ivm.Callback(() => 1).constructor, ivm.Callback);
  isolate.dispose();
});

test('hostile input to the guest classes gives JS errors, never a crash', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const out = context.evalSync(`
  const results = [];
  // Promises of async methods get a handler: one rejected while this run is still going (an
  // async call on I dropped when a later call disposes I) would otherwise fail the run as an
  // unhandled rejection (SPEC §2.1 "Microtasks"), depending on timing.
  const tryIt = (f) => { try { const r = f(); if (r && typeof r.then === 'function') r.then(undefined, () => {}); results.push('ok:' + typeof r) } catch (e) { results.push(e.constructor.name + ':' + e.message) } };
  const I = new ivm.Isolate(); const C = I.createContextSync(); const S = I.compileScriptSync('1');
  const protos = [ivm.Isolate.prototype, ivm.Context.prototype, ivm.Script.prototype, ivm.Reference.prototype, ivm.ExternalCopy.prototype];
  const bad = [undefined, null, 0, NaN, -1, 1e308, 'x', Symbol(), {}, [], () => 1, new Proxy({}, {}), I, C, S];
  for (const p of protos) for (const name of Object.getOwnPropertyNames(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (name === 'constructor') continue;
    for (const recv of [{}, I, C, S]) for (const a of bad) tryIt(() => d.get ? d.get.call(recv) : d.value.call(recv, a, a, a));
  }
  tryIt(() => new ivm.Isolate('x')); tryIt(() => new ivm.Isolate({ memoryLimit: 'x' })); tryIt(() => new ivm.Isolate({ memoryLimit: 1e300 }).dispose());
  tryIt(() => I.compileScriptSync('(', { filename: 5 })); tryIt(() => I.compileScriptSync('('));
  tryIt(() => C.evalSync('1', { timeout: NaN })); tryIt(() => C.evalClosureSync('return 1', 'x'));
  tryIt(() => C.evalSync('1', { copy: true, reference: true }));
  results.length + ' ' + [...new Set(results.map(r => r.split(':')[0]))].join(',');
  `);
  const [count, kinds] = out.split(' ');
  assert.ok(Number(count) > 2000);
  assert.deepEqual(kinds.split(',').sort(), ['Error', 'TypeError', 'ok']);
  assert.equal(context.evalSync('1 + 1'), 2, 'the isolate is still usable');
  isolate.dispose();
});

test('a nested isolate reports its heap statistics, sync and async', async () => {
  const { isolate, context } = guest();
  const fields = ['total_heap_size', 'total_heap_size_executable', 'total_physical_size', 'total_available_size',
    'used_heap_size', 'heap_size_limit', 'malloced_memory', 'peak_malloced_memory', 'does_zap_garbage',
    'externally_allocated_size'];
  const out = context.evalSync(`
    globalThis.inner = new ivm.Isolate({ memoryLimit: 16 });
    const ctx = inner.createContextSync();
    ctx.evalSync('globalThis.keep = new ArrayBuffer(2 * 1024 * 1024)');
    const s = inner.getHeapStatisticsSync();
    JSON.stringify({ keys: Object.keys(s), s });
  `);
  const { keys, s } = JSON.parse(out);
  assert.deepEqual(keys, fields);
  for (const f of fields) assert.equal(typeof s[f], 'number', f);
  // As in isolated-vm, the limit is the old generation's; V8's young generation comes on top.
  assert.ok(s.heap_size_limit <= 20 * 1024 * 1024 && s.heap_size_limit >= 16 * 1024 * 1024, `limit ${s.heap_size_limit}`);
  assert.ok(s.used_heap_size > 0 && s.used_heap_size <= s.total_heap_size);
  assert.ok(s.externally_allocated_size >= 2 * 1024 * 1024, 'the inner ArrayBuffer counts');
  const asyncOut = await context.eval('inner.getHeapStatistics().then((s) => s.heap_size_limit)', { promise: true });
  assert.equal(asyncOut, s.heap_size_limit);
  assert.equal(context.evalSync('inner.dispose(); try { inner.getHeapStatisticsSync() } catch (e) { e.message }'), 'Isolated is disposed');
  isolate.dispose();
});
