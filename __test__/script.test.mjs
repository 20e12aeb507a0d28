// Script: compile/run flavours, origins, release, cross-isolate use (SPEC §1.2, §1.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

test('compileScript and run in every flavour, in several contexts', async () => {
  const isolate = new ivm.Isolate();
  const script = await isolate.compileScript('globalThis.n = (globalThis.n || 0) + 1');
  const a = isolate.createContextSync();
  const b = isolate.createContextSync();
  assert.equal(script.runSync(a), 1);
  assert.equal(await script.run(a), 2);
  assert.equal(script.runIgnored(b), undefined);
  assert.equal(script.runSync(b), 2);
  const sync = isolate.compileScriptSync('[1, 2, 3]');
  assert.equal(sync.runSync(a), undefined, 'non-transferable results become undefined');
  assert.deepEqual(sync.runSync(a, { copy: true }), [1, 2, 3]);
  assert.equal(sync.runSync(a, { reference: true }).typeof, 'object');
  isolate.dispose();
});

test('ScriptOrigin: filename, lineOffset, columnOffset reach stacks and syntax errors', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('\nthrow new Error("x")', { filename: 'file:///a.js', lineOffset: 10 });
  assert.throws(() => script.runSync(context), (e) => /file:\/\/\/a\.js:12:7/.test(e.stack));
  assert.throws(() => isolate.compileScriptSync('1 ** **', { filename: 'file:///b.js' }),
    { name: 'SyntaxError', message: "Unexpected token '**' [file:///b.js:1:6]" });
  assert.throws(() => isolate.compileScriptSync('\n1 +', { filename: 'c.js', lineOffset: 10 }),
    (e) => e instanceof SyntaxError && / \[c\.js:12:\d+\]$/.test(e.message));
  assert.throws(() => context.evalSync('+++'), (e) => e instanceof SyntaxError && e.message.endsWith('[<isolated-vm>:1:4]'));
  isolate.dispose();
});

test('release and { release: true }', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('5');
  assert.equal(script.runSync(context, { release: true }), 5);
  assert.throws(() => script.runSync(context), { message: 'Script has been released' });
  const other = isolate.compileScriptSync('6');
  other.release();
  assert.throws(() => other.runSync(context), { message: 'Script has been released' });
  isolate.dispose();
});

test('a script only runs in contexts of its own isolate', () => {
  const a = new ivm.Isolate();
  const b = new ivm.Isolate();
  const script = a.compileScriptSync('1');
  assert.throws(() => script.runSync(b.createContextSync()), { name: 'Error', message: 'Invalid context' });
  assert.throws(() => script.runSync({}), TypeError);
  assert.throws(() => script.runSync(), TypeError);
  assert.throws(() => a.compileScriptSync(), { name: 'TypeError', message: '`undefined` requires at least 1 parameter' });
  assert.throws(() => a.compileScriptSync(5), { name: 'TypeError', message: '`undefined` requires parameter 1 to be a string' });
  a.dispose();
  b.dispose();
});

test('scripts see the context they run in, not where they were compiled', () => {
  const isolate = new ivm.Isolate();
  const script = isolate.compileScriptSync('typeof marker');
  const ctx = isolate.createContextSync();
  ctx.evalSync('globalThis.marker = 1');
  assert.equal(script.runSync(ctx), 'number');
  assert.equal(script.runSync(isolate.createContextSync()), 'undefined');
  isolate.dispose();
});

test('Script and Module objects are extensible, unlike the other handles (as in isolated-vm 5.0.4)', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.equal(Object.isFrozen(isolate.compileScriptSync('1')), false);
  assert.equal(Object.isFrozen(isolate.compileModuleSync('1')), false);
  assert.equal(Object.isFrozen(context), true);
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync(`
    const inner = new ivm.Isolate();
    const r = [Object.isFrozen(inner.compileScriptSync('1')), Object.isFrozen(inner.compileModuleSync('1')), Object.isFrozen(inner)].join();
    inner.dispose();
    r`), 'false,false,true');
  isolate.dispose();
});
