// Errors crossing the boundary (SPEC §2.3) and the stack format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

const isolate = new ivm.Isolate();
const context = isolate.createContextSync();
test.after(() => isolate.dispose());

test('the five preserved constructors', () => {
  for (const C of [Error, RangeError, ReferenceError, SyntaxError, TypeError]) {
    assert.throws(() => context.evalSync(`throw new ${C.name}('m')`), (e) => e.constructor === C && e.message === 'm', C.name);
  }
});

test('other error classes arrive as Error with their name', () => {
  for (const name of ['URIError', 'EvalError']) {
    assert.throws(() => context.evalSync(`throw new ${name}('m')`), (e) =>
      e.constructor === Error && e.name === name && e.message === 'm' && !Object.keys(e).includes('name'));
  }
  assert.throws(() => context.evalSync('class MyError extends Error { constructor(m) { super(m); this.name = "MyError"; this.code = 5 } }; throw new MyError("x")'),
    (e) => e.constructor === Error && e.name === 'MyError' && e.code === undefined);
  assert.throws(() => context.evalSync('const e = new Error(); e.message = 1234; throw e'), { message: '1234' });
});

test('thrown non-Errors and primitives', () => {
  const msg = 'An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.';
  assert.throws(() => context.evalSync('throw {}'), { name: 'Error', message: msg });
  assert.throws(() => context.evalSync('throw [1]'), { message: msg });
  for (const [code, value] of [['"str"', 'str'], ['42', 42], ['null', null], ['undefined', undefined], ['5n', 5n]]) {
    try {
      context.evalSync(`throw ${code}`);
      assert.fail('did not throw');
    } catch (e) {
      assert.equal(e, value);
    }
  }
});

test('stack: guest frames, boundary marker, then the caller frames (sync)', () => {
  try {
    context.evalSync('function inner() { throw new Error("deep") }\ninner()', { filename: 'guest.js' });
    assert.fail('did not throw');
  } catch (e) {
    const lines = e.stack.split('\n');
    assert.equal(lines[0], 'Error: deep');
    assert.match(lines[1], /^ {4}at inner \(guest\.js:1:26\)$/);
    const marker = lines.indexOf('    at (<isolated-vm boundary>)');
    assert.ok(marker > 1, e.stack);
    assert.match(lines.slice(marker + 1).join('\n'), /errors\.test\.mjs/);
    for (const line of lines.slice(1)) assert.match(line, /^ {4}at /);
  }
});

test('stack: async calls carry the caller stack captured at the call', async () => {
  async function callerFunction() {
    return context.eval('throw new TypeError("later")');
  }
  await assert.rejects(callerFunction(), (e) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.stack, /\(<isolated-vm boundary>\)\n[\s\S]*callerFunction/);
    return true;
  });
  const disposed = new ivm.Isolate();
  const ctx = disposed.createContextSync();
  disposed.dispose();
  await assert.rejects(ctx.eval('1'), (e) => e.message === 'Isolate is disposed' && /errors\.test\.mjs/.test(e.stack));
});

test('unhandled rejections fail the task', async () => {
  assert.throws(() => context.evalSync('Promise.reject(new Error("unh")); 5'), { message: 'unh' });
  await assert.rejects(context.eval('Promise.reject(new RangeError("unh2")); 5'), { name: 'RangeError', message: 'unh2' });
  assert.equal(context.evalSync('const p = Promise.reject(new Error("handled")); p.catch(() => {}); 6'), 6);
  assert.equal(context.evalSync('Promise.resolve().then(() => { globalThis.micro = 1 }); 7'), 7);
  assert.equal(context.evalSync('micro'), 1, 'microtasks run after each task');
});
