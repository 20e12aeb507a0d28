// References to host values, used from the host and from guests (SPEC §1.2, §2.1, §2.6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ivm from 'isolated-vm-rs';

test('the vault program prints its result after the vault line', () => {
  const file = fileURLToPath(new URL('./fixtures/vault.cjs', import.meta.url));
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '[vault] Running query: SELECT * FROM users WHERE active = true\nFound 1 active users.\n');
});

test('host Reference on the host: typeof, deref, copy, apply, release', async () => {
  const fn = new ivm.Reference((x) => x + 1);
  assert.equal(fn.typeof, 'function');
  assert.equal(fn.deref()(1), 2);
  assert.equal(fn.applySync(undefined, [1]), 2);
  assert.equal(await fn.apply(undefined, [2]), 3);
  assert.equal(fn.applyIgnored(undefined, [3]), undefined);
  const obj = new ivm.Reference({ a: [1, { b: 2 }] });
  assert.equal(obj.typeof, 'object');
  assert.deepEqual(obj.copySync(), { a: [1, { b: 2 }] });
  assert.deepEqual(await obj.copy(), { a: [1, { b: 2 }] });
  assert.throws(() => obj.applySync(), { name: 'TypeError', message: 'Reference is not a function' });
  assert.equal(new ivm.Reference(null).typeof, 'null');
  assert.equal(new ivm.Reference(1n).typeof, 'object');
  const value = { same: true };
  const ref = new ivm.Reference(value);
  assert.equal(ref.deref({ release: true }), value);
  assert.throws(() => ref.deref(), { message: 'Reference has been released' });
  fn.release();
  assert.throws(() => fn.release(), { message: 'Reference has been released' });
  assert.throws(() => fn.typeof, { message: 'Reference has been released' });
  assert.throws(() => ivm.Reference(1), { name: 'TypeError', message: '`Reference` must be called with `new`' });
});

test('guests call host functions synchronously, from sync and async host calls', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const seen = [];
  context.global.setSync('host', new ivm.Reference(function (a, b) { seen.push([this, a, b]); return a * b; }));
  assert.equal(context.evalSync('host.applySync(undefined, [6, 7])'), 42, 'served while Node is blocked in evalSync');
  assert.equal(await context.eval('host.applySync(undefined, [2, 3])'), 6, 'served on the event loop');
  assert.equal(isolate.compileScriptSync('host.applySync(undefined, [1, 1])').runSync(context), 1);
  assert.equal(context.evalSync('host.typeof'), 'function');
  assert.deepEqual(seen.map((s) => s.slice(1)), [[6, 7], [2, 3], [1, 1]]);
  context.global.setSync('copyArgs', new ivm.Reference((o) => o.list.length));
  assert.equal(context.evalSync('copyArgs.applySync(undefined, [{ list: [1, 2, 3] }], { arguments: { copy: true } })'), 3);
  assert.throws(() => context.evalSync('copyArgs.applySync(undefined, [{ list: [] }])'), { name: 'TypeError', message: 'A non-transferable value was passed' });
  isolate.dispose();
});

test('results, errors and copies between guest and host', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('mk', new ivm.Reference(() => ({ x: 1 })));
  assert.equal(context.evalSync('const r = mk.applySync(); r.typeof + ":" + JSON.stringify(r.copySync())'), 'object:{"x":1}');
  assert.equal(context.evalSync('JSON.stringify(mk.applySync(undefined, [], { result: { copy: true } }))'), '{"x":1}');
  context.global.setSync('thrower', new ivm.Reference(() => { throw new RangeError('host says no'); }));
  assert.equal(context.evalSync('try { thrower.applySync() } catch (e) { e instanceof RangeError && e.message }'), 'host says no');
  assert.throws(() => context.evalSync('thrower.applySync()'), (e) => e instanceof RangeError && e.message === 'host says no' &&
    e.stack.split('\n').filter((l) => l === '    at (<isolated-vm boundary>)').length === 2);
  context.global.setSync('prim', new ivm.Reference(() => { throw 'just a string'; }));
  assert.equal(context.evalSync('try { prim.applySync() } catch (e) { e }'), 'just a string');
  context.global.setSync('obj', new ivm.Reference({ a: 1, nested: { b: 2 } }));
  assert.equal(context.evalSync('JSON.stringify(obj.copySync())'), '{"a":1,"nested":{"b":2}}');
  context.evalSync('obj.release()');
  assert.throws(() => context.evalSync('obj.copySync()'), { message: 'Reference has been released' });
  isolate.dispose();
});

test('host and guest call each other synchronously, recursively (the bridge)', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('reenter', new ivm.Reference(() => context.evalSync('40') + 2));
  assert.equal(context.evalSync('reenter.applySync()'), 42, 'host → guest → host → guest, all synchronous');
  assert.equal(await context.eval('reenter.applySync()'), 42, 'also when the outer call is async');
  // Mutual recursion to depth 20: guest down(n) calls host up(n - 1), which calls guest down again.
  context.global.setSync('up', (n) => (n <= 0 ? 0 : context.evalClosureSync('return down($0)', [n]) + 1));
  context.evalSync('globalThis.down = (n) => up(n - 1) + 1');
  assert.equal(context.evalSync('down(20)'), 39, 'each host/guest hop adds one: 2 × 20 − 1');
  const guestRef = context.global.getSync('Math', { reference: true });
  context.global.setSync('readBack', () => guestRef.getSync('PI'));
  assert.equal(context.evalSync('readBack()'), Math.PI, 'a host function reading guest values while the guest waits');
  context.global.setSync('queued', new ivm.Reference(() => { context.evalIgnored('globalThis.later = 1'); return 2; }));
  assert.equal(context.evalSync('queued.applySync()'), 2);
  assert.equal(context.evalSync('later'), 1, 'async work queued from inside a host call runs too');
  isolate.dispose();
});

test('handles collected in the guest release their host values (10,000 cycles)', () => {
  const file = fileURLToPath(new URL('./fixtures/lifetimes.cjs', import.meta.url));
  const r = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'clean');
});

test('regression: re-entry race (the wait was recorded after the request was visible)', { timeout: 60_000 }, async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('reenter', new ivm.Reference(() => context.evalSync('1')));
  for (let i = 0; i < 300; i++) assert.equal(context.evalSync('reenter.applySync()'), 1);
  for (let i = 0; i < 100; i++) assert.equal(await context.eval('reenter.applySync()'), 1);
  isolate.dispose();
});

test('a host Reference returned from the guest is the same host target', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const target = { x: 1 };
  context.global.setSync('hr', new ivm.Reference(target));
  const again = context.evalSync('hr');
  assert.ok(again instanceof ivm.Reference);
  assert.equal(again.deref(), target);
  isolate.dispose();
});

test('time spent in host calls counts against neither timeout nor cpuTime (SPEC §2.1)', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('slow', () => { const t = Date.now(); while (Date.now() - t < 100) {} return 1; });
  assert.equal(context.evalSync('let s = 0; for (let i = 0; i < 6; i++) s += slow(); s', { timeout: 200 }), 6,
    '600 ms in host callbacks under a 200 ms timeout');
  assert.throws(() => context.evalSync('slow(); while (true) {}', { timeout: 200 }), { message: 'Script execution timed out.' });
  const cpu0 = isolate.cpuTime;
  const wall0 = isolate.wallTime;
  context.evalSync('slow(); slow(); slow()');
  const cpu = Number(isolate.cpuTime - cpu0) / 1e6;
  const wall = Number(isolate.wallTime - wall0) / 1e6;
  assert.ok(wall >= 290, `wall ${wall} ms keeps running while waiting`);
  assert.ok(cpu < 100, `cpu ${cpu} ms excludes the wait`);
  isolate.dispose();
});

test('applySyncPromise: a guest running asynchronously waits for the host promise (SPEC §2.6)', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('fetchLike', new ivm.Reference(async (x) => {
    await new Promise((r) => setTimeout(r, 20));
    return { got: x };
  }));
  context.global.setSync('failing', new ivm.Reference(async () => { throw new TypeError('nope'); }));
  assert.equal(await context.eval('JSON.stringify(fetchLike.applySyncPromise(undefined, [5]))'), '{"got":5}');
  assert.equal(await context.eval('try { failing.applySyncPromise() } catch (e) { e.name + ": " + e.message }'), 'TypeError: nope');
  assert.throws(() => context.evalSync('fetchLike.applySyncPromise(undefined, [1])'),
    { message: 'This function may not be called from the default thread' });
  await assert.rejects(context.eval('fetchLike.applySyncPromise(undefined, [1], { result: { copy: true } })'),
    { name: 'TypeError', message: '`result` options are not available for `applySyncPromise`' });
  assert.throws(() => new ivm.Reference(() => 1).applySyncPromise(),
    { message: 'This function may not be called from the default thread' });
  isolate.dispose();
});

test('property access on host References, from the host and from a guest (SPEC §2.8)', async () => {
  const target = { a: 1, nested: { b: 2 }, get g() { return 7; } };
  const r = new ivm.Reference(target);
  assert.equal(r.getSync('a'), 1);
  assert.equal(r.getSync('nested').typeof, 'object');
  assert.equal(r.getSync('toString'), undefined, 'own properties only');
  assert.throws(() => r.getSync('g'), { name: 'TypeError', message: 'Property is getter' });
  assert.equal(r.getSync('g', { accessors: true }), 7);
  // An object needs transfer options even into its own heap, as in isolated-vm 5.0.4.
  assert.throws(() => r.setSync('c', { live: true }), { name: 'TypeError', message: 'A non-transferable value was passed' });
  r.setSync('c', { live: true }, { copy: true });
  assert.deepEqual(target.c, { live: true });
  assert.equal(await r.get('a'), 1);
  r.deleteSync('a');
  assert.equal('a' in target, false);
  assert.throws(() => new ivm.Reference(Object.freeze({})).setSync('x', 1), { name: 'TypeError', message: 'Set failed' });
  assert.throws(() => new ivm.Reference(new Proxy({}, {})).getSync('a'), { name: 'TypeError', message: 'Object is or has proxy' });
  assert.throws(() => new ivm.Reference(5).getSync('a'), { name: 'TypeError', message: 'Reference is not an object' });

  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const data = { x: 1, list: [1, 2] };
  context.global.setSync('r', new ivm.Reference(data));
  assert.equal(context.evalSync('r.getSync("list").typeof + ":" + JSON.stringify(r.getSync("list", { copy: true }))'), 'object:[1,2]');
  context.evalSync('r.setSync("fromGuest", 5); r.setSync("obj", { y: 1 }, { copy: true }); r.deleteSync("x")');
  assert.equal(data.fromGuest, 5);
  assert.deepEqual(data.obj, { y: 1 });
  assert.equal('x' in data, false);
  assert.throws(() => context.evalSync('r.getSync({})'), { name: 'TypeError', message: 'Invalid `key`' });
  assert.throws(() => context.evalSync('r.setSync("z", {})'), { name: 'TypeError', message: 'A non-transferable value was passed' });
  await context.eval('r.get("fromGuest").then((v) => { globalThis.got = v }); r.copy().then((v) => { globalThis.cp = v.list.length })');
  await new Promise((res) => setTimeout(res, 30));
  assert.equal(context.evalSync('got + ":" + cp'), '5:2');
  isolate.dispose();
});
