// The library object transferred into a guest (SPEC §1.6): frozen, with the classes that work
// inside isolates so far (Reference to values of the isolate, ExternalCopy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

test('ivm crosses into a guest as a frozen library object', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync('Object.isFrozen(ivm) + ":" + typeof ivm.Reference + ":" + typeof ivm.ExternalCopy'), 'true:function:function');
  context.global.setSync('nested', { lib: ivm }, { copy: true });
  assert.equal(context.evalSync('typeof nested.lib.Reference'), 'function', 'also nested inside copies');
  isolate.dispose();
});

test('new ivm.Reference(value) inside a guest', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync(`const r = new ivm.Reference({ a: 1 });
    r.typeof + ":" + r.getSync("a") + ":" + r.deref().a + ":" + JSON.stringify(r.copySync())`), 'object:1:1:{"a":1}');
  assert.equal(context.evalSync('new ivm.Reference((x) => x + 1).applySync(undefined, [41])'), 42);
  assert.equal(context.evalSync('r.setSync("b", 2); r.deleteSync("a"); JSON.stringify(r.deref())'), '{"b":2}');
  assert.equal(context.evalSync('r instanceof ivm.Reference'), true);
  assert.equal(context.evalSync('try { ivm.Reference(1) } catch (e) { e.message }'), '`Reference` must be called with `new`');
  assert.equal(context.evalSync('try { new ivm.Reference(1).applySync() } catch (e) { e.message }'), 'Reference is not a function');
  assert.equal(context.evalSync('try { new ivm.Reference(1).getSync("a") } catch (e) { e.message }'), 'Reference is not an object');
  assert.equal(context.evalSync(`const g = new ivm.Reference({ get x() { return 1 } });
    try { g.getSync("x") } catch (e) { e.message + ":" + g.getSync("x", { accessors: true }) }`), 'Property is getter:1');
  assert.equal(context.evalSync('r.release(); try { r.deref() } catch (e) { e.message }'), 'Reference has been released');
  isolate.dispose();
});

test('new ivm.ExternalCopy(value) inside a guest, usable on the host', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync('globalThis.ec = new ivm.ExternalCopy({ z: [1] }); JSON.stringify(ec.copy())'), '{"z":[1]}');
  const back = context.evalSync('ec');
  assert.ok(back instanceof ivm.ExternalCopy);
  assert.deepEqual(back.copy(), { z: [1] });
  assert.equal(context.evalSync('try { new ivm.ExternalCopy(Symbol()) } catch (e) { e.message }'), 'Unsupported type');
  assert.equal(context.evalSync('try { ivm.ExternalCopy(1) } catch (e) { e.message }'), '`ExternalCopy` must be called with `new`');
  isolate.dispose();
});

test('guest-made handles are released when collected', async () => {
  const { createRequire } = await import('node:module');
  const binding = createRequire(import.meta.url)('../binding.js');
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  context.evalSync('for (let i = 0; i < 2000; i++) { new ivm.Reference({ i }); new ivm.ExternalCopy({ i }); }');
  assert.equal(binding.__collectGarbage(isolate), 0);
  isolate.dispose();
});
