// Long strings entering an isolate (issue 11 item 5): from 1024 bytes on (1024 one-byte or 512
// two-byte units) they are external strings, as isolated-vm makes them, counted in
// `externally_allocated_size` and against the memory limit until the guest's GC collects them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ivm from 'isolated-vm-rs';

const external = (isolate) => isolate.getHeapStatisticsSync().externally_allocated_size;

test('a long string set into a guest counts its bytes in externally_allocated_size', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const before = external(isolate);
  context.global.setSync('s', 'x'.repeat(4096));
  assert.equal(external(isolate) - before, 4096);
  context.global.setSync('t', '\u4e00'.repeat(512)); // two-byte: 1024 bytes
  assert.equal(external(isolate) - before, 4096 + 1024);
  assert.equal(context.evalSync('s.length + t.length + (s[4095] + t[511])'), '4608x\u4e00');
  isolate.dispose();
});

test('inside a guest, long strings entering a nested isolate count the same way', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const grew = context.evalSync(`
    const inner = new ivm.Isolate();
    const ctx = inner.createContextSync();
    const before = inner.getHeapStatisticsSync().externally_allocated_size;
    ctx.global.setSync('s', 'x'.repeat(4096));
    ctx.global.setSync('t', 'x'.repeat(100));
    const grew = inner.getHeapStatisticsSync().externally_allocated_size - before;
    inner.dispose();
    grew;
  `);
  assert.equal(grew, 4096);
  isolate.dispose();
});

test('shorter strings stay on the V8 heap', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const before = external(isolate);
  context.global.setSync('s', 'x'.repeat(1023));
  context.global.setSync('t', '\u4e00'.repeat(511));
  assert.equal(external(isolate) - before, 0);
  assert.equal(context.evalSync('s.length + t.length'), 1534);
  isolate.dispose();
});

test('every way in counts: ExternalCopy, copy, arguments, nested values, script source', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const before = external(isolate);
  const long = 'y'.repeat(2048);
  context.global.setSync('a', new ivm.ExternalCopy(long).copyInto());
  context.global.setSync('b', { nested: [long] }, { copy: true });
  context.evalClosureSync('globalThis.c = $0', [long]);
  const source = `globalThis.d = ${JSON.stringify(long)}.length`;
  const script = isolate.compileScriptSync(source);
  script.runSync(context);
  // Three strings of 2048 bytes, and the source of the script (which the script keeps).
  assert.equal(external(isolate) - before, 3 * 2048 + source.length);
  assert.equal(context.evalSync('a === c && b.nested[0] === c && d'), 2048);
  isolate.dispose();
});

test('a long string counts until the guest collects it (node --expose-gc)', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const program = `
    const ivm = require(${JSON.stringify(root)});
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const external = () => isolate.getHeapStatisticsSync().externally_allocated_size;
    const before = external();
    context.global.setSync('s', 'z'.repeat(1 << 20));
    const held = external() - before;
    context.evalSync('delete globalThis.s; gc()');
    console.log(held, external() - before);
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', program], { encoding: 'utf8' }).trim();
  assert.equal(out, `${1 << 20} 0`);
});

test('long strings count against the memory limit: live ones dispose the isolate, garbage ones do not', () => {
  const mb = 'm'.repeat(1 << 20);
  // Garbage: the same global is overwritten, so a full GC frees the older strings.
  const reused = new ivm.Isolate({ memoryLimit: 8 });
  const context = reused.createContextSync();
  for (let i = 0; i < 40; i++) context.global.setSync('s', mb + i);
  assert.equal(context.evalSync('s.length'), (1 << 20) + 2);
  assert.equal(reused.isDisposed, false);
  reused.dispose();
  // Alive: forty distinct strings kept by the guest are 40 MB against a limit of 8.
  const kept = new ivm.Isolate({ memoryLimit: 8 });
  const keeper = kept.createContextSync();
  keeper.evalSync('globalThis.keep = []');
  const push = keeper.global.getSync('keep').getSync('push', { reference: true });
  assert.throws(() => {
    for (let i = 0; i < 40; i++) keeper.evalClosureSync('keep.push($0)', [mb + i]);
  }, { message: 'Isolate was disposed during execution due to memory limit' });
  assert.equal(kept.isDisposed, true);
  push.release();
  // Later isolates work.
  const after = new ivm.Isolate({ memoryLimit: 8 });
  assert.equal(after.createContextSync().evalSync('1 + 1'), 2);
  after.dispose();
});

test('the spare context a new isolate makes is clean when createContext takes it over', () => {
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
