// Hostile input from guests and from the host never crashes or hangs Node (issue 12, item 4).
// Each case runs in a child process with a deadline, so a crash or a hang is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `body` (CommonJS, `ivm` in scope) in a child; returns its stdout lines. */
function child(body, deadline = 20_000) {
  const script = `const ivm = require(${JSON.stringify(root)});\n(async () => {\n${body}\n})().then(() => process.exit(0), (e) => { console.log('FAILED ' + (e && e.stack)); process.exit(2) });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: deadline });
  assert.equal(r.signal, null, `killed by ${r.signal} (hang or crash)\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim().split('\n');
}

test('resizable ArrayBuffers shrunk under a view: every copy path fails cleanly', () => {
  const out = child(`
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const report = (label, f) => { try { f(); console.log(label, 'ok') } catch (e) { console.log(label, e.name) } };
    const shrunk = () => { const ab = new ArrayBuffer(16, { maxByteLength: 64 }); const v = new Uint8Array(ab, 8, 8); ab.resize(4); return v };
    report('host copy', () => context.global.setSync('v', shrunk(), { copy: true }));
    report('host ExternalCopy', () => new ivm.ExternalCopy(shrunk()).copyInto());
    report('host DataView', () => { const ab = new ArrayBuffer(16, { maxByteLength: 64 }); const v = new DataView(ab, 8, 8); ab.resize(4); context.global.setSync('d', v, { copy: true }) });
    const guest = '(() => { const ab = new ArrayBuffer(16, { maxByteLength: 64 }); const v = new Uint8Array(ab, 8, 8); ab.resize(4); return v })()';
    report('guest copy', () => context.evalSync(guest, { copy: true }));
    report('guest ExternalCopy', () => context.evalSync(guest, { externalCopy: true }).copy());
    report('tracking view', () => context.evalSync('{ const t = new ArrayBuffer(16, { maxByteLength: 64 }); const w = new Uint8Array(t); t.resize(8); w }', { copy: true }));
    report('growable SAB', () => context.evalSync('{ const g = new SharedArrayBuffer(16, { maxByteLength: 64 }); g.grow(32); new Uint8Array(g) }', { copy: true }));
    report('host into guest, detached', () => { const ab = new ArrayBuffer(8); const v = new Uint8Array(ab); structuredClone(ab, { transfer: [ab] }); context.global.setSync('x', v, { copy: true }) });
    console.log('alive', context.evalSync('1 + 1'));
  `);
  // Each path either copies what is left or throws; none may take the process down.
  assert.equal(out.length, 9, out.join('\n'));
  for (const line of out.slice(0, -1)) assert.match(line, / (ok|Error|TypeError|RangeError)$/);
  assert.equal(out.at(-1), 'alive 2', out.join('\n'));
});

test('a looping getter reached while a result is copied stops with the call timeout', () => {
  const out = child(`
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    for (const code of ['({ get x() { for (;;) {} } })', '[1, { get y() { while (true) {} } }]']) {
      try { context.evalSync(code, { copy: true, timeout: 100 }); console.log('completed') } catch (e) { console.log(e.message) }
      try { await context.eval(code, { copy: true, timeout: 100 }); console.log('completed') } catch (e) { console.log(e.message) }
    }
    console.log('alive', context.evalSync('1 + 1'));
  `);
  assert.deepEqual(out, [...Array(4).fill('Script execution timed out.'), 'alive 2']);
});

test('without a timeout, a looping getter reached while copying is bounded by dispose(): Node keeps turning', () => {
  // The copy is guest code like any other: an async call leaves the event loop turning, and
  // dispose() ends it (isolated-vm 5.0.4 rejects with null there).
  const out = child(`
    for (const code of ['({ get x() { for (;;) {} } })', '{ const e = new Error("x"); Object.defineProperty(e, "message", { get() { for (;;) {} } }); throw e }']) {
      const isolate = new ivm.Isolate();
      const context = isolate.createContextSync();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const started = Date.now();
      const call = context.eval(code, { copy: true }).then(() => 'completed', (e) => e.message);
      setTimeout(() => isolate.dispose(), 200);
      const outcome = await call;
      clearInterval(timer);
      console.log(outcome, Date.now() - started < 2000, ticks >= 5);
    }
  `);
  assert.deepEqual(out, ['Isolate was disposed during execution true true', 'Isolate was disposed during execution true true']);
});

test('an error whose message getter loops stops with the call timeout', () => {
  const out = child(`
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    for (const key of ['message', 'name', 'stack']) {
      const code = '{ const e = new Error("x"); Object.defineProperty(e, "' + key + '", { get() { for (;;) {} } }); throw e }';
      try { context.evalSync(code, { timeout: 100 }); console.log('completed') } catch (e) { console.log(key, e.message) }
    }
    console.log('alive', context.evalSync('1 + 1'));
  `);
  assert.deepEqual(out, [
    'message Script execution timed out.',
    'name Script execution timed out.',
    'stack Script execution timed out.',
    'alive 2',
  ]);
});

test('a timed-out isolate whose microtask queue re-queues itself is usable afterwards', () => {
  const out = child(`
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const shapes = [
      'function m() { Promise.resolve().then(m) } m(); while (true) {}',
      'Promise.resolve().then(function m() { queueMicrotask(m) }); for (;;) {}',
      '(async () => { for (;;) await null })(); while (true) {}',
      'function m() { Promise.resolve().then(m) } m(); 1',
    ];
    for (const code of shapes) {
      try { context.evalSync(code, { timeout: 50 }); console.log('completed') } catch (e) { console.log(e.message) }
      try { console.log('after', context.evalSync('1')) } catch (e) { console.log('after', e.message) }
      try { console.log('after async', await context.eval('2')) } catch (e) { console.log('after async', e.message) }
    }
  `);
  for (let i = 0; i < out.length; i += 3) {
    assert.equal(out[i], 'Script execution timed out.', out.join('\n'));
    assert.equal(out[i + 1], 'after 1', out.join('\n'));
    assert.equal(out[i + 2], 'after async 2', out.join('\n'));
  }
});
