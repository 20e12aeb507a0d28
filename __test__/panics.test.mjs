// A panic inside the library becomes a JavaScript Error; it never aborts the process, and the
// library keeps working afterwards. `__panicForTest` is a test hook of binding.js (not exported
// by index.js): "napi" panics in the exported function itself, "guest" installs a guest
// function whose V8 callback panics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import ivm from 'isolated-vm-rs';

const binding = createRequire(import.meta.url)('../binding.js');

const GUEST_PANIC = 'Internal error in isolated-vm-rs: __panicForTest: a panic inside a guest V8 callback';

function assertStillWorks() {
  const isolate = new ivm.Isolate();
  try {
    const context = isolate.createContextSync();
    assert.equal(context.evalSync('1 + 1'), 2);
  } finally {
    isolate.dispose();
  }
}

test('a panic inside a napi function throws an Error and the process keeps working', () => {
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => binding.__panicForTest('napi'),
      (e) => e instanceof Error && e.message === '__panicForTest: a panic inside a napi function',
    );
  }
  assertStillWorks();
});

test('a panic inside a guest V8 callback throws an Error into the guest; the isolate lives on', async () => {
  const isolate = new ivm.Isolate();
  try {
    const context = isolate.createContextSync();
    binding.__panicForTest('guest', context);
    assert.equal(
      context.evalSync(`try { __panicForTest(); 'no error' } catch (e) { (e instanceof Error) + ': ' + e.message }`),
      `true: ${GUEST_PANIC}`,
    );
    // Uncaught, from a sync call (runs inline on Node's thread) and an async one (isolate thread).
    assert.throws(() => context.evalSync('__panicForTest()'), { name: 'Error', message: GUEST_PANIC });
    await assert.rejects(context.eval('__panicForTest()'), { name: 'Error', message: GUEST_PANIC });
    assert.equal(isolate.isDisposed, false);
    assert.equal(context.evalSync('1 + 1'), 2);
  } finally {
    isolate.dispose();
  }
  assertStillWorks();
});

test('__panicForTest rejects an unknown place, and "guest" without a context', () => {
  assert.throws(() => binding.__panicForTest('elsewhere'), TypeError);
  assert.throws(() => binding.__panicForTest('guest'), TypeError);
});
