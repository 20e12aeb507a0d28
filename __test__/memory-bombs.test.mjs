// Guests that do not fit under their memory limit (issue 12), each in a child process so that a
// crash is a failure and not a dead test runner: the host survives and its event loop keeps
// turning, the call fails with the memory-limit error within 5 s, later isolates work, and the
// child's peak RSS (VmHWM, the whole Node process) stays within 2 × limit + 64 MB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const shapes = createRequire(import.meta.url)('./fixtures/shapes.cjs');
const MEMORY = 'Isolate was disposed during execution due to memory limit';

/** Runs one shape in a child process; returns its report. */
function runShape(spec) {
  const r = spawnSync(process.execPath, [path.join(here, 'fixtures', 'shape.cjs'), JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.signal, null, `${spec.name}: killed by ${r.signal} (crash or hang)\n${r.stderr}`);
  assert.equal(r.status, 0, `${spec.name}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

for (const shape of shapes) {
  for (const mode of ['sync', 'async']) {
    test(`memory bomb (${mode}): ${shape.name} at ${shape.limit} MB`, { timeout: 60_000 }, () => {
      const report = runShape({ ...shape, mode, catastrophe: true });
      assert.equal(report.ok, false, `completed with ${report.value}`);
      assert.equal(report.message, shape.error ?? MEMORY);
      assert.ok(report.ms < 5000, `took ${report.ms} ms`);
      assert.equal(report.later, 42, 'a later isolate works');
      if (!shape.error) {
        assert.equal(report.disposed, true);
        // onCatastrophicError is called exactly when V8 itself ran out of memory.
        for (const m of report.catastrophes) assert.match(m, /^Catastrophic out-of-memory error: /);
      }
      if (mode === 'async' && report.ms > 50) assert.ok(report.ticks > 0, 'the event loop kept turning');
      const bound = 2 * shape.limit + 64;
      assert.ok(report.hwm <= bound, `peak RSS ${report.hwm.toFixed(0)} MB > ${bound} MB`);
    });
  }
}

test('a contained catastrophe fails the running call and every queued call with the memory-limit error', () => {
  const root = path.join(here, '..');
  const script = `
    const ivm = require(${JSON.stringify(root)});
    const messages = [];
    const isolate = new ivm.Isolate({ memoryLimit: 16, onCatastrophicError: (m) => messages.push(m) });
    const context = isolate.createContextSync();
    const calls = [context.eval('Array(1e9).fill(0).length'), context.eval('1'), context.eval('2')];
    Promise.allSettled(calls).then(async (r) => {
      await new Promise((res) => setTimeout(res, 50));
      console.log(JSON.stringify({ r: r.map((x) => x.reason && x.reason.message), messages, disposed: isolate.isDisposed }));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.deepEqual(out.r, [MEMORY, MEMORY, MEMORY]);
  assert.equal(out.disposed, true);
  assert.equal(out.messages.length, 1);
  assert.match(out.messages[0], /^Catastrophic out-of-memory error: /);
});

// Threads that wait to lock an isolate (a sync call, a disposal) while its own thread runs a
// call into a catastrophe: that thread keeps the isolate's lock for good, so they must give up
// waiting rather than block Node forever.
function runScript(body) {
  const root = path.join(here, '..');
  const script = `const ivm = require(${JSON.stringify(root)});\n${body}`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, `killed by ${r.signal} (a hang)\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('a sync call waiting for an isolate whose async call ends in a catastrophe fails with the memory-limit error', () => {
  const out = runScript(`
    const messages = [];
    const isolate = new ivm.Isolate({ memoryLimit: 16, onCatastrophicError: (m) => messages.push(m) });
    const context = isolate.createContextSync();
    const running = context.eval('Array(1e9).fill(0).length').catch((e) => e.message);
    const t = Date.now(); while (Date.now() - t < 20); // the async call is under way
    let sync; try { sync = context.evalSync('1'); } catch (e) { sync = e.message; }
    let stats; try { isolate.getHeapStatisticsSync(); stats = 'read'; } catch (e) { stats = e.message; }
    running.then((async) => {
      const later = new ivm.Isolate().createContextSync().evalSync('6 * 7');
      console.log(JSON.stringify({ sync, stats, async, messages: messages.length, later }));
    });`);
  assert.deepEqual(out, { sync: MEMORY, stats: 'Isolated is disposed', async: MEMORY, messages: 1, later: 42 });
});

test('a call deferred behind one waiting for the host settles when a sync call from that host loses the isolate', () => {
  const out = runScript(`
    const isolate = new ivm.Isolate({ memoryLimit: 16, onCatastrophicError: () => {} });
    const context = isolate.createContextSync();
    let deferred, bomb;
    context.global.setSync('host', new ivm.Reference(() => {
      // Issued while the first call waits for this function: deferred behind it.
      deferred = context.eval('2').then((v) => 'value ' + v, (e) => e.message);
      const t = Date.now(); while (Date.now() - t < 50);
      try { context.evalSync('Array(1e9).fill(0).length'); bomb = 'no error'; } catch (e) { bomb = e.message; }
      return 1;
    }));
    context.eval('host.applySync(undefined, [])').then((v) => 'value ' + v, (e) => e.message).then(async (first) => {
      console.log(JSON.stringify({ first, bomb, deferred: await deferred }));
    });`);
  assert.deepEqual(out, { first: MEMORY, bomb: MEMORY, deferred: MEMORY });
});

test('dispose() while an async call runs into a catastrophe returns; the call fails with the memory-limit error', () => {
  const out = runScript(`
    const isolate = new ivm.Isolate({ memoryLimit: 16, onCatastrophicError: () => {} });
    const context = isolate.createContextSync();
    const running = context.eval('Array(1e9).fill(0).length').catch((e) => e.message);
    setTimeout(() => {
      isolate.dispose();
      running.then((async) => console.log(JSON.stringify({ async, disposed: isolate.isDisposed })));
    }, 30);`);
  assert.deepEqual(out, { async: MEMORY, disposed: true });
});

test('dispose() does not wait for a running call that never checks for interrupts: Node keeps turning', () => {
  // 'x'.repeat(2 ** 28).indexOf('y') runs for about 200 ms without an interrupt check.
  const out = runScript(`
    const isolate = new ivm.Isolate({ memoryLimit: 1024 });
    const context = isolate.createContextSync();
    const running = context.eval("'x'.repeat(2 ** 28).indexOf('y')").then((v) => 'value ' + v, (e) => e.message);
    let ticks = 0;
    setTimeout(() => {
      isolate.dispose();
      const timer = setInterval(() => ticks++, 5);
      running.then((async) => {
        clearInterval(timer);
        const later = new ivm.Isolate().createContextSync().evalSync('6 * 7');
        console.log(JSON.stringify({ async, ticks, later }));
      });
    }, 20);`);
  assert.equal(out.async, 'Isolate was disposed during execution');
  assert.equal(out.later, 42);
  assert.ok(out.ticks >= 3, `the event loop turned ${out.ticks} times while the call went on`);
});

test('onCatastrophicError of an isolate created inside a guest is called there with V8\'s message', () => {
  const root = path.join(here, '..');
  const script = `
    const ivm = require(${JSON.stringify(root)});
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    context.global.setSync('ivm', ivm);
    const r = context.evalSync(\`
      globalThis.messages = [];
      const inner = new ivm.Isolate({ memoryLimit: 8, onCatastrophicError: (m) => messages.push(typeof m + ':' + m) });
      const ctx = inner.createContextSync();
      let r; try { ctx.evalSync('Array(1e9).fill(0).length') } catch (e) { r = e.message }
      r\`);
    setTimeout(() => {
      console.log(JSON.stringify({ r, messages: context.evalSync('messages', { copy: true }), after: context.evalSync('6 * 7') }));
    }, 200);`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(out.r, MEMORY);
  assert.equal(out.messages.length, 1);
  assert.match(out.messages[0], /^string:Catastrophic out-of-memory error: /);
  assert.equal(out.after, 42);
});

test('a nested isolate lost to a catastrophe leaves its guest and the host running', () => {
  const root = path.join(here, '..');
  const script = `
    const ivm = require(${JSON.stringify(root)});
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    context.global.setSync('ivm', ivm);
    console.log(context.evalSync(\`
      const inner = new ivm.Isolate({ memoryLimit: 8 });
      const ctx = inner.createContextSync();
      let r; try { ctx.evalSync('Array(1e9).fill(0).length') } catch (e) { r = e.message }
      r + ' | ' + inner.isDisposed\`));
    console.log(context.evalSync('1 + 1'));
    context.eval(\`(async () => { const inner = new ivm.Isolate({ memoryLimit: 8 }); const ctx = await inner.createContext();
      try { await ctx.eval('Array(1e9).fill(0).length') } catch (e) { return e.message } })()\`, { promise: true })
      .then((m) => console.log(m));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').filter((l) => !l.startsWith('[') && !l.startsWith('<') && l);
  assert.deepEqual(lines, [`${MEMORY} | true`, '2', MEMORY]);
});
