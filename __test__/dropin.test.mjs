// Drop-in behaviours that programs written for isolated-vm rely on (issue 11, "Calls and
// errors"), each checked against isolated-vm 5.0.4. Where the API exists on both faces, the
// same body runs on the host and inside a guest (`ivm` transferred into a context).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

// Runs `body` (the body of an async `function (ivm)` returning a JSON-able value) on both faces
// and returns [host, guest]. In the guest it starts in a synchronous call (`evalSync` with
// `promise: true`), so it may call other isolates synchronously until its first `await`
// (afterwards it runs asynchronously: SPEC §2.1 rule 4).
async function bothFaces(body) {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  try {
    const host = await new Function('ivm', `return (async () => { ${body} })()`)(ivm);
    const guest = await context.evalSync(`(async (ivm) => { ${body} })(ivm)`, { promise: true, copy: true });
    return [host, guest];
  } finally {
    isolate.dispose();
  }
}

async function sameOnBothFaces(name, body, expected) {
  test(`both faces: ${name}`, async () => {
    const [host, guest] = await bothFaces(body);
    assert.deepEqual(guest, host, `guest differs from host for: ${name}`);
    if (expected !== undefined) assert.deepEqual(host, expected);
  });
}

// Item 7: `timeout` is an int32, as isolated-vm reads it.
sameOnBothFaces('timeout: a 32-bit number; null and negative values are accepted', `
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const fn = context.evalSync('(function () { return 7 })', { reference: true });
  const out = [];
  for (const timeout of ['5', NaN, 1.5, 2 ** 31, -(2 ** 31) - 1, Infinity, true, {}, null, undefined, -1, 0, 2 ** 31 - 1, -(2 ** 31)]) {
    for (const f of [() => context.evalSync('7', { timeout }), () => fn.applySync(undefined, [], { timeout }),
      () => isolate.compileScriptSync('7').runSync(context, { timeout }), () => context.evalClosureSync('return 7', [], { timeout })]) {
      try { out.push(String(f())); } catch (e) { out.push(e.constructor.name + ':' + e.message); }
    }
  }
  isolate.dispose();
  return out;
`, [
  ...Array(8 * 4).fill('TypeError:`timeout` must be a 32-bit number'),
  ...Array(6 * 4).fill('7'),
]);
