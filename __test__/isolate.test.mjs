// Isolate: construction options, disposal, statistics and counters (SPEC §1.2–1.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

test('default options create a working isolate', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.equal(context.evalSync('1 + 1'), 2);
  isolate.dispose();
});

test('memoryLimit validation follows isolated-vm', () => {
  assert.throws(() => new ivm.Isolate({ memoryLimit: 4 }), { name: 'Error', message: '`memoryLimit` must be at least 8' });
  assert.throws(() => new ivm.Isolate({ memoryLimit: -1 }), { message: '`memoryLimit` must be at least 8' });
  assert.throws(() => new ivm.Isolate({ memoryLimit: 'x' }), { name: 'TypeError', message: '`memoryLimit` must be a number' });
  assert.throws(() => new ivm.Isolate({ memoryLimit: NaN }), { name: 'TypeError', message: '`memoryLimit` must be a number' });
  assert.throws(() => new ivm.Isolate(5), { name: 'TypeError', message: '`Isolate` requires parameter 1 to be an object' });
  assert.throws(() => new ivm.Isolate('x'), { name: 'TypeError', message: '`Isolate` requires parameter 1 to be an object' });
  assert.throws(() => new ivm.Isolate({ onCatastrophicError: 1 }), TypeError);
  assert.throws(() => new ivm.Isolate({ snapshot: {} }), { name: 'TypeError', message: '`snapshot` must be an ExternalCopy to ArrayBuffer' });
  const minimal = new ivm.Isolate({ memoryLimit: 8, unknownKey: true, inspector: false });
  assert.equal(minimal.getHeapStatisticsSync().heap_size_limit <= 16 * 1024 * 1024, true);
  minimal.dispose();
  const huge = new ivm.Isolate({ memoryLimit: 1e300 });
  assert.equal(huge.createContextSync().evalSync('2'), 2);
  huge.dispose();
});

test('constructor rules: new required, private constructors, lengths', () => {
  assert.throws(() => ivm.Isolate(), { name: 'TypeError', message: '`Isolate` must be called with `new`' });
  assert.throws(() => new ivm.Context(), { name: 'TypeError', message: '`Context` constructor is private' });
  assert.throws(() => new ivm.Script(), { name: 'TypeError', message: '`Script` constructor is private' });
  assert.equal(ivm.Isolate.length, 1);
  assert.equal(ivm.Reference.length, 2);
  assert.equal(ivm.Context.length, 0);
  const isolate = new ivm.Isolate();
  assert.ok(isolate instanceof ivm.Isolate);
  const context = isolate.createContextSync();
  assert.ok(context instanceof ivm.Context);
  assert.ok(isolate.compileScriptSync('1') instanceof ivm.Script);
  isolate.dispose();
});

test('the export and prototypes are frozen', () => {
  assert.ok(Object.isFrozen(ivm));
  assert.ok(Object.isFrozen(ivm.Isolate.prototype));
  assert.ok(Object.isFrozen(ivm.Reference.prototype));
  const original = ivm.Isolate.prototype.dispose;
  assert.throws(() => { 'use strict'; ivm.Isolate.prototype.dispose = () => {}; }, TypeError);
  assert.equal(ivm.Isolate.prototype.dispose, original);
});

test('dispose: isDisposed, second dispose, use after dispose', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.equal(isolate.isDisposed, false);
  isolate.dispose();
  assert.equal(isolate.isDisposed, true);
  assert.throws(() => isolate.dispose(), { name: 'Error', message: 'Isolate is already disposed' });
  assert.throws(() => context.evalSync('1'), { message: 'Isolated is disposed' });
  await assert.rejects(context.eval('1'), { message: 'Isolate is disposed' });
  assert.throws(() => isolate.createContextSync(), { message: 'Isolated is disposed' });
  await assert.rejects(isolate.createContext(), { message: 'Isolate is disposed' });
  assert.throws(() => isolate.cpuTime, { message: 'Isolate is disposed' });
  assert.throws(() => isolate.wallTime, { message: 'Isolate is disposed' });
  assert.throws(() => isolate.referenceCount, { message: 'Isolate is disposed' });
  assert.equal(context.evalIgnored('1'), undefined);
});

test('cpuTime and wallTime are bigint nanoseconds that grow with work', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const cpu0 = isolate.cpuTime;
  const wall0 = isolate.wallTime;
  assert.equal(typeof cpu0, 'bigint');
  assert.equal(typeof wall0, 'bigint');
  context.evalSync('let x = 0; for (let i = 0; i < 2e7; i++) x += i; x');
  const cpu = isolate.cpuTime - cpu0;
  const wall = isolate.wallTime - wall0;
  assert.ok(cpu > 1_000_000n, `cpu ${cpu}`);
  assert.ok(wall >= cpu / 2n, `wall ${wall} cpu ${cpu}`);
  isolate.dispose();
});

test('referenceCount counts live handles and drops on release', () => {
  const isolate = new ivm.Isolate();
  const base = isolate.referenceCount;
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('1');
  const counted = isolate.referenceCount;
  assert.ok(counted >= base + 3, `context + global + script, got ${counted}`);
  script.release();
  context.release();
  isolate.createContextSync().evalSync('1'); // a round trip so releases are processed
  assert.ok(isolate.referenceCount < counted + 2);
  isolate.dispose();
});

test('getHeapStatistics has every field, sync and async', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const fields = ['total_heap_size', 'total_heap_size_executable', 'total_physical_size', 'total_available_size',
    'used_heap_size', 'heap_size_limit', 'malloced_memory', 'peak_malloced_memory', 'does_zap_garbage',
    'externally_allocated_size'];
  for (const stats of [isolate.getHeapStatisticsSync(), await isolate.getHeapStatistics()]) {
    for (const f of fields) assert.equal(typeof stats[f], 'number', f);
    assert.ok(stats.used_heap_size > 0);
    assert.ok(stats.heap_size_limit >= 32 * 1024 * 1024 && stats.heap_size_limit <= 64 * 1024 * 1024, String(stats.heap_size_limit));
  }
  const context = isolate.createContextSync();
  context.evalSync('globalThis.buf = new ArrayBuffer(4 * 1024 * 1024)');
  assert.ok(isolate.getHeapStatisticsSync().externally_allocated_size >= 4 * 1024 * 1024);
  isolate.dispose();
});

test('cpuTime never goes down across many short calls and grows with them', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const fn = context.evalClosureSync('return (a) => a + 1', [], { result: { reference: true } });
  const start = isolate.cpuTime;
  const wallStart = isolate.wallTime;
  let last = start;
  for (let i = 0; i < 3000; i++) {
    fn.applySync(undefined, [i]);
    const now = isolate.cpuTime;
    assert.ok(now >= last, `call ${i}: ${now} < ${last}`);
    last = now;
  }
  assert.ok(last > start, 'short calls add CPU time');
  const wall = isolate.wallTime - wallStart;
  // The CPU time of a job excludes handing its result over (as its wall time does).
  assert.ok(last - start <= wall * 2n, `cpu ${last - start} ns for ${wall} ns of wall time`);
  isolate.dispose();
});

test('the context made with a new isolate is clean when createContext takes it over', () => {
  const isolate = new ivm.Isolate();
  // Compiling before any context exists uses the spare; a syntax error is thrown from it.
  assert.throws(() => isolate.compileScriptSync('let let = 1'), { name: 'SyntaxError' });
  const script = isolate.compileScriptSync('globalThis.ran = (globalThis.ran || 0) + 1');
  const first = isolate.createContextSync();
  const second = isolate.createContextSync();
  const names = 'Object.getOwnPropertyNames(globalThis).sort().join()';
  assert.equal(first.evalSync(names), second.evalSync(names));
  assert.equal(script.runSync(first), 1);
  assert.equal(script.runSync(second), 1);
  assert.equal(first.evalSync('typeof ran'), 'number');
  isolate.dispose();
});

test('heap statistics have the same fields in the same order on both faces, sync and async', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const guestKeys = context.evalSync('Object.keys(new ivm.Isolate().getHeapStatisticsSync()).join()');
  const sync = isolate.getHeapStatisticsSync();
  const async = await isolate.getHeapStatistics();
  assert.equal(Object.keys(sync).join(), guestKeys);
  assert.equal(Object.keys(async).join(), guestKeys);
  assert.equal(guestKeys, 'total_heap_size,total_heap_size_executable,total_physical_size,total_available_size,' +
    'used_heap_size,heap_size_limit,malloced_memory,peak_malloced_memory,does_zap_garbage,externally_allocated_size');
  assert.ok(sync.heap_size_limit >= 32 * 1024 * 1024 && sync.total_heap_size >= sync.used_heap_size);
  isolate.dispose();
});

test('guests run V8 15.2: its newer built-ins exist in every context, nested ones too (README "Guest built-ins")', () => {
  const names = ['DisposableStack', 'AsyncDisposableStack', 'Float16Array', 'SuppressedError', 'Iterator'];
  const probe = `${JSON.stringify(names)}.map((n) => typeof globalThis[n]).join() + '|' + typeof Symbol.dispose + '|' + typeof Promise.try + '|' + typeof Math.f16round`;
  const expected = 'function,function,function,function,function|symbol|function|function';
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.equal(context.evalSync(probe), expected);
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync(`new ivm.Isolate().createContextSync().evalSync(${JSON.stringify(probe)})`), expected);
  // Usable, not just present.
  assert.equal(context.evalSync(`
    const log = [];
    { using stack = new DisposableStack(); stack.defer(() => log.push('disposed')); log.push('body'); }
    log.join() + ':' + new Float16Array([1.5])[0]`), 'body,disposed:1.5');
  isolate.dispose();
});
