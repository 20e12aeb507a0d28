// Sync calls run on the caller's thread under the isolate's lock (ARCHITECTURE.md): re-entrancy
// through host functions, ordering against queued async calls, disposal from inside, and many
// isolates with mixed sync and async calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

test('a sync call recursing guest -> host -> guest to depth 50 while an async call is queued', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('up', (n) => (n <= 0 ? 0 : context.evalClosureSync('return down($0)', [n]) + 1));
  context.evalSync('globalThis.down = (n) => up(n - 1) + 1');
  context.evalSync('globalThis.log = []');
  const queued = context.eval('log.push("async"); log.length');
  // The async call was queued first: the sync call runs after it.
  assert.equal(context.evalSync('down(50)'), 99);
  assert.equal(context.evalSync('log.join()'), 'async');
  assert.equal(await queued, 1);
  // And while an async call waits for the host, sync calls (and their recursion) still run.
  let release;
  const gate = new Promise((r) => { release = r; });
  context.global.setSync('wait', new ivm.Reference(() => gate));
  const waiting = context.eval('wait.applySyncPromise(undefined, [])');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(context.evalSync('down(50)'), 99, 'sync call runs while the async one waits for the host');
  release('done');
  assert.equal(await waiting, 'done');
  isolate.dispose();
});

test('async calls queued before a sync call run first; after it, in order', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.evalSync('globalThis.seen = []');
  const done = [];
  for (let i = 0; i < 5; i++) done.push(context.eval(`seen.push(${i})`));
  context.evalIgnored('seen.push("ignored")');
  assert.equal(context.evalSync('seen.push("sync"); seen.join()'), '0,1,2,3,4,ignored,sync');
  await Promise.all(done);
  isolate.dispose();
});

test('dispose() from a host function called during a sync call ends the call, without a hang', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('quit', () => { isolate.dispose(); return 1; });
  assert.throws(() => context.evalSync('quit(); while (true) {}'), { message: 'Isolate was disposed during execution' });
  assert.equal(isolate.isDisposed, true);
  assert.throws(() => context.evalSync('1'), { message: /disposed/ });
});

test('a host function called during a sync call may call into other isolates synchronously', () => {
  const a = new ivm.Isolate();
  const b = new ivm.Isolate();
  const ca = a.createContextSync();
  const cb = b.createContextSync();
  cb.global.setSync('fromA', (x) => ca.evalClosureSync('return $0 * 2', [x]));
  ca.global.setSync('toB', (x) => cb.evalClosureSync('return fromA($0) + 1', [x]));
  assert.equal(ca.evalSync('toB(20)'), 41);
  a.dispose();
  b.dispose();
});

test('8 isolates, mixed sync and async calls and host callbacks, with disposals midway', async () => {
  const isolates = [];
  const pending = [];
  const wrong = [];
  const check = (p, expected) => pending.push(p.then(
    (v) => { if (v !== expected) wrong.push(`got ${v}, expected ${expected}`); },
    (e) => { if (!/disposed|abandoned/.test(e.message)) wrong.push(e.message); }));
  for (let i = 0; i < 8; i++) {
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    const context = isolate.createContextSync();
    context.global.setSync('host', (x) => x + 1);
    context.global.setSync('asyncHost', new ivm.Callback((x) => x * 2, { async: true }));
    isolates.push({ isolate, context });
  }
  for (let round = 0; round < 30; round++) {
    for (const [i, { isolate, context }] of isolates.entries()) {
      if (isolate.isDisposed) continue;
      check(context.eval(`host(${round}) + ${i}`), round + 1 + i);
      check(context.eval('asyncHost(3)', { promise: true }), 6);
      try {
        const v = context.evalSync(`host(${round}) * 2`);
        if (v !== (round + 1) * 2) wrong.push(`sync got ${v}`);
      } catch (e) {
        if (!/disposed/.test(e.message)) wrong.push(e.message);
      }
      if (round === 10 + i) isolate.dispose();
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  assert.deepEqual(wrong, [], 'every call settled with its value or a disposal error');
  assert.equal(pending.length, 8 * 2 * 10 + 2 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7) + 16);
  for (const { isolate } of isolates) assert.equal(isolate.isDisposed, true);
});

test('a guest calling a nested isolate synchronously: the time spent there is the nested isolate\'s', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  context.evalSync(`
    globalThis.inner = new ivm.Isolate();
    globalThis.innerCtx = inner.createContextSync();
    globalThis.spin = innerCtx.evalSync('(ms) => { const t = Date.now(); while (Date.now() - t < ms) {} return ms; }', { reference: true });
  `);
  const cpu0 = isolate.cpuTime;
  const innerCpu0 = context.evalSync('inner.cpuTime');
  assert.equal(context.evalSync('spin.applySync(undefined, [200])'), 200);
  const outerMs = Number(isolate.cpuTime - cpu0) / 1e6;
  const innerMs = Number(context.evalSync('inner.cpuTime') - innerCpu0) / 1e6;
  assert.ok(innerMs >= 150, `inner cpu ${innerMs} ms`);
  assert.ok(outerMs < 100, `outer cpu ${outerMs} ms excludes the nested call`);
  assert.equal(context.evalSync('innerCtx.evalSync("6 * 7")'), 42);
  isolate.dispose();
});
