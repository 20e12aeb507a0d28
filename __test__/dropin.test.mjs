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

// Item 6: an option, transfer, key or target error of an async method rejects its promise;
// argument-type errors of its signature throw (as in isolated-vm 5.0.4); ignored methods throw.
sameOnBothFaces('async methods reject instead of throwing, except for argument types', `
  const outcome = (f) => {
    let p;
    try { p = f(); } catch (e) { return 'threw:' + e.message; }
    if (!(p instanceof Promise)) return 'not a promise: ' + typeof p;
    return p.then(() => 'resolved', (e) => 'rejected:' + e.constructor.name + ':' + e.message);
  };
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const script = isolate.compileScriptSync('1');
  const fn = context.evalSync('(function () { return 1 })', { reference: true });
  const obj = context.evalSync('({ a: 1 })', { reference: true });
  const released = isolate.createContextSync();
  released.release();
  const out = await Promise.all([
    outcome(() => context.eval(5)),
    outcome(() => context.eval('1', 5)),
    outcome(() => context.eval('1', { timeout: 'x' })),
    outcome(() => context.eval('1', { copy: true, reference: true })),
    outcome(() => context.eval('1', { get timeout() { throw new RangeError('g'); } })),
    outcome(() => context.evalClosure('return 1', 5)),
    outcome(() => context.evalClosure('return 1', [{}])),
    outcome(() => context.evalClosure('return 1', [], { arguments: 5 })),
    outcome(() => released.eval('1')),
    outcome(() => script.run(context, { timeout: NaN })),
    outcome(() => obj.set('b', {})),
    outcome(() => obj.set({}, 1)),
    outcome(() => obj.delete({})),
    outcome(() => obj.get('a', 5)),
    outcome(() => obj.get('a', { copy: true, externalCopy: true })),
    outcome(() => fn.apply(undefined, [{}])),
    outcome(() => fn.apply(undefined, 5)),
    outcome(() => fn.apply(undefined, [], { timeout: 1.5 })),
    outcome(() => isolate.compileScript(5)),
    outcome(() => isolate.compileScript('1', 5)),
    outcome(() => isolate.createContext(5)),
    outcome(() => context.evalIgnored('1', { timeout: 'x' })),
    outcome(() => obj.setIgnored('b', {})),
    outcome(() => context.eval('1')),
  ]);
  isolate.dispose();
  return out;
`, [
  'threw:`undefined` requires parameter 1 to be a string',
  'threw:`undefined` requires parameter 2 to be an object',
  'rejected:TypeError:`timeout` must be a 32-bit number',
  'rejected:TypeError:Only one of `copy`, `externalCopy`, or `reference` may be set',
  'rejected:RangeError:g',
  'threw:`undefined` requires parameter 2 to be an array',
  'rejected:TypeError:A non-transferable value was passed',
  'rejected:TypeError:`arguments` must be an object',
  'rejected:Error:Context is released',
  'rejected:TypeError:`timeout` must be a 32-bit number',
  'rejected:TypeError:A non-transferable value was passed',
  'rejected:TypeError:Invalid `key`',
  'rejected:TypeError:Invalid `key`',
  'threw:`undefined` requires parameter 2 to be an object',
  'rejected:TypeError:Only one of `copy`, `externalCopy`, or `reference` may be set',
  'rejected:TypeError:A non-transferable value was passed',
  'threw:`undefined` requires parameter 2 to be an array',
  'rejected:TypeError:`timeout` must be a 32-bit number',
  'threw:`undefined` requires parameter 1 to be a string',
  'threw:`undefined` requires parameter 2 to be an object',
  'threw:`undefined` requires parameter 1 to be an object',
  'threw:`timeout` must be a 32-bit number',
  'threw:A non-transferable value was passed',
  'resolved',
]);

sameOnBothFaces('sync methods still throw their argument errors', `
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const out = [];
  for (const f of [() => context.evalSync('1', { timeout: 'x' }), () => context.evalClosureSync('return 1', [{}]),
    () => isolate.compileScriptSync(5)]) {
    try { f(); out.push('returned'); } catch (e) { out.push('threw:' + e.message); }
  }
  isolate.dispose();
  return out;
`, ['threw:`timeout` must be a 32-bit number', 'threw:A non-transferable value was passed',
  'threw:`undefined` requires parameter 1 to be a string']);

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

// Item 10: the lines after the boundary marker are frame lines only.
sameOnBothFaces('a multi-line message is not repeated after the boundary marker', `
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const stacks = [];
  try { context.evalSync('throw new Error("A\\\\nB")'); } catch (e) { stacks.push(e.stack); }
  try { await context.eval('throw new Error("A\\\\nB")'); } catch (e) { stacks.push(e.stack); }
  isolate.dispose();
  return stacks.map((stack) => {
    const lines = stack.split('\\n');
    const marker = lines.indexOf('    at (<isolated-vm boundary>)');
    return [lines[0], lines[1], marker > 1, lines.slice(2).every((l) => l.startsWith('    at '))];
  });
`, Array(2).fill(['Error: A', 'B', true, true]));

// Item 11: a `promise: true` sync call whose promise rejects returns a rejected promise.
sameOnBothFaces('sync calls with promise: true return a rejected promise', `
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const fn = context.evalSync('(function () { return Promise.reject(new RangeError("f")) })', { reference: true });
  const outcome = (f) => {
    let p;
    try { p = f(); } catch (e) { return 'threw:' + e.message; }
    if (!(p instanceof Promise)) return 'not a promise';
    return p.then((v) => 'resolved:' + v, (e) => 'rejected:' + e.constructor.name + ':' + e.message);
  };
  const after = context.evalSync('1 + 1');
  const out = await Promise.all([
    outcome(() => context.evalSync('Promise.reject(new Error("e"))', { promise: true })),
    outcome(() => context.evalClosureSync('return Promise.reject(new TypeError("c"))', [], { result: { promise: true } })),
    outcome(() => fn.applySync(undefined, [], { result: { promise: true } })),
    outcome(() => context.evalSync('(async () => { await null; throw new Error("later") })()', { promise: true })),
    outcome(() => context.evalSync('Promise.resolve(3)', { promise: true })),
  ]);
  out.push(after);
  isolate.dispose();
  return out;
`, ['rejected:Error:e', 'rejected:TypeError:c', 'rejected:RangeError:f', 'rejected:Error:later', 'resolved:3', 2]);

// Item 9: timeout errors carry the guest stack where the call stopped.
sameOnBothFaces('timeout errors carry the guest stack', `
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const code = 'function spin() { for (;;) {} }\\nspin()';
  const fn = context.evalSync('(function spinFn() { for (;;) {} })', { reference: true });
  const stacks = [];
  try { context.evalSync(code, { timeout: 20 }); } catch (e) { stacks.push(e.stack); }
  try { fn.applySync(undefined, [], { timeout: 20 }); } catch (e) { stacks.push(e.stack); }
  const after = context.evalSync('1 + 1');
  try { await context.eval(code, { timeout: 20 }); } catch (e) { stacks.push(e.stack); }
  try { await fn.apply(undefined, [], { timeout: 20 }); } catch (e) { stacks.push(e.stack); }
  isolate.dispose();
  return [after, ...stacks.map((stack) => {
    const lines = stack.split('\\n');
    const marker = lines.indexOf('    at (<isolated-vm boundary>)');
    return [lines[0], lines.slice(1, marker).join('|'), marker > 1, lines.slice(1).every((l) => l.startsWith('    at '))];
  })];
`, [2,
  ['Error: Script execution timed out.', '    at spin (<isolated-vm>:1:19)|    at <isolated-vm>:2:1', true, true],
  ['Error: Script execution timed out.', '    at spinFn (<isolated-vm>:1:22)', true, true],
  ['Error: Script execution timed out.', '    at spin (<isolated-vm>:1:19)|    at <isolated-vm>:2:1', true, true],
  ['Error: Script execution timed out.', '    at spinFn (<isolated-vm>:1:22)', true, true],
]);

// Item 8: sync methods on the running isolate's own handles during async calls (SPEC §2.1 rule 3).
test('sync methods on handles of the isolate an async call runs in', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('isolate', isolate);
  context.global.setSync('context', context);
  assert.equal(await context.eval('isolate.compileScriptSync("6*7").runSync(context)'), 42);
  assert.equal(await context.eval('context.evalSync("1 + 1")'), 2);
  assert.equal(await context.eval('context.evalClosureSync("return $0 * 2", [21])'), 42);
  assert.equal(await context.eval('isolate.createContextSync().evalSync("typeof isolate")'), 'undefined');
  assert.equal(await context.eval('typeof isolate.getHeapStatisticsSync().used_heap_size'), 'number');
  // A timeout of the inner call applies to it.
  assert.equal(await context.eval('try { context.evalSync("for (;;) {}", { timeout: 20 }) } catch (e) { e.message }'),
    'Script execution timed out.');
  isolate.dispose();
});

// Item 8 (with item 9): the inner call runs in the outer one, whose timeout stops it.
test('a timeout of an outer call stops a nested call and is reported by the outer call', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('context', context);
  context.global.setSync('ivm', ivm);
  // The inner eval has no timeout of its own; the outer one's stops it.
  assert.throws(() => context.evalSync('context.evalSync("for (;;) {}")', { timeout: 50 }), (e) => {
    assert.equal(e.message, 'Script execution timed out.');
    return true;
  });
  assert.equal(context.evalSync('1 + 1'), 2);
  isolate.dispose();
});

// Item 15: `eval` / `new Function` refuse sources longer than memoryLimit / 8 characters.
test('code generation from strings is limited to memoryLimit / 8 characters', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 8 });
  const context = isolate.createContextSync();
  const refused = 'EvalError: Code generation from strings disallowed for this context';
  const attempt = (code) => context.evalSync(`try { typeof ${code} } catch (e) { e.constructor.name + ': ' + e.message }`);
  assert.equal(attempt('eval("1".repeat(1048577))'), refused);
  assert.equal(attempt('new Function("1".repeat(1048577))'), refused);
  assert.equal(attempt('eval("1".repeat(1048576))'), 'number');
  assert.equal(attempt('eval(5)'), 'number');
  assert.equal(context.evalSync('eval("1 + 1") + new Function("return 2")()'), 4);
  // A context created later has the same limit.
  assert.equal(isolate.createContextSync().evalSync(`try { eval("1".repeat(1048577)) } catch (e) { e.message }`),
    'Code generation from strings disallowed for this context');
  isolate.dispose();
  const big = new ivm.Isolate({ memoryLimit: 128 });
  assert.equal(big.createContextSync().evalSync('typeof eval("1".repeat(1048577))'), 'number');
  big.dispose();
});

// Item 13: a call issued to an idle isolate is already running when `dispose()` follows.
test('dispose right after a call to an idle isolate: that call is under way', async () => {
  const settle = (p) => p.then((v) => 'resolved:' + typeof v, (e) => 'rejected:' + e.message);
  for (const [name, call, expected] of [
    ['createContext', (i) => i.createContext(), 'resolved:object'],
    ['compileScript', (i) => i.compileScript('1'), 'resolved:object'],
    ['getHeapStatistics', (i) => i.getHeapStatistics(), 'resolved:object'],
  ]) {
    const isolate = new ivm.Isolate();
    const p = settle(call(isolate));
    isolate.dispose();
    assert.equal(await p, expected, name);
  }
  // Node's thread can be held up between the calls and the disposal (a garbage collection
  // running finalizers, the OS), long enough for the isolate's thread to finish some of them:
  // those resolve, rightly, and the next one is the call under way. Any other outcome fails at
  // once; the expected one (nothing finished first) must come within a few attempts.
  const [D, X] = ['rejected:Isolate was disposed during execution', 'rejected:Isolate is disposed'];
  const expected = [D, X, X];
  const valid = [expected, ['resolved:number', D, X], ['resolved:number', 'resolved:number', 'resolved:object']].map(String);
  let seen;
  for (let attempt = 0; attempt < 5 && String(seen) !== String(expected); attempt++) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const calls = [settle(context.eval('1')), settle(context.eval('2')), settle(isolate.createContext())];
    isolate.dispose();
    seen = await Promise.all(calls);
    assert.ok(valid.includes(String(seen)), String(seen));
  }
  assert.deepEqual(seen, expected);
});

// Item 13, raced: the isolate's thread, woken by the first call, must not start the call
// queued behind it when the disposal ran the first one itself.
test('dispose right after a call: only that call is under way, every time', async () => {
  const settle = (p) => p.then((v) => 'resolved:' + v, (e) => 'rejected:' + e.message);
  for (let i = 0; i < 40; i++) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    if (i % 2) await new Promise((r) => setTimeout(r, 1)); // the isolate's thread asleep
    const first = settle(context.eval('1'));
    const queued = settle(context.eval('2'));
    isolate.dispose();
    // Calls finished before the disposal resolve; then at most one was under way; the rest
    // never started.
    const got = [await first, await queued];
    const done = got.filter((r) => r.startsWith('resolved:')).length;
    assert.deepEqual(got.slice(0, done), ['resolved:1', 'resolved:2'].slice(0, done));
    const rest = got.slice(done);
    if (rest[0] === 'rejected:Isolate was disposed during execution') rest.shift();
    assert.deepEqual(rest, rest.map(() => 'rejected:Isolate is disposed'), got.join());
  }
});

// Item 14: `cpuTime` / `wallTime` include the call in progress.
test('cpuTime and wallTime move during an async call', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const cpu0 = isolate.cpuTime;
  const wall0 = isolate.wallTime;
  const p = context.eval('const t = Date.now(); while (Date.now() - t < 300) {}');
  await new Promise((r) => setTimeout(r, 150));
  const cpu = Number(isolate.cpuTime - cpu0) / 1e6;
  const wall = Number(isolate.wallTime - wall0) / 1e6;
  assert.ok(wall >= 50, `wallTime moved by ${wall} ms during the call`);
  assert.ok(cpu >= 20, `cpuTime moved by ${cpu} ms during the call`);
  await p;
  assert.ok(isolate.cpuTime >= cpu0 + BigInt(Math.floor(cpu * 1e6)), 'cpuTime never goes down');
  isolate.dispose();
});

test('cpuTime and wallTime read from a host function during a sync call', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const seen = [];
  context.global.setSync('probe', () => { seen.push([isolate.cpuTime, isolate.wallTime]); });
  const [cpu0, wall0] = [isolate.cpuTime, isolate.wallTime];
  context.evalSync('probe(); const t = Date.now(); while (Date.now() - t < 100) {} probe()');
  const [[c1, w1], [c2, w2]] = seen;
  assert.ok(Number(w2 - w1) / 1e6 >= 80, `wallTime moved by ${Number(w2 - w1) / 1e6} ms inside the call`);
  assert.ok(Number(c2 - c1) / 1e6 >= 50, `cpuTime moved by ${Number(c2 - c1) / 1e6} ms inside the call`);
  assert.ok(c1 >= cpu0 && w1 >= wall0);
  assert.ok(isolate.cpuTime >= c2 && isolate.wallTime >= w2, 'never goes down');
  // Inside a guest, a nested isolate's times move the same way.
  context.global.setSync('ivm', ivm);
  assert.equal(context.evalSync(`
    const inner = new ivm.Isolate();
    const c = inner.createContextSync();
    const seen = [];
    c.global.setSync('probe', new ivm.Callback(() => { seen.push(inner.wallTime); }));
    c.evalSync('probe(); const t = Date.now(); while (Date.now() - t < 100) {} probe()');
    inner.dispose();
    Number(seen[1] - seen[0]) / 1e6 >= 80
  `), true);
  isolate.dispose();
});

// Item 12: per-isolate FIFO while a call waits in `applySyncPromise`; a timeout is its call's.
test('later async calls wait for a call waiting in applySyncPromise; sync calls still run', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const delay = (ms) => new Promise((r) => setTimeout(r, ms));
  context.global.setSync('slow', new ivm.Reference(() => delay(100)));
  context.global.setSync('host', new ivm.Reference(() => 1));
  const order = [];
  const track = (n, p) => p.then(() => order.push(n + ' ok'), (e) => order.push(n + ' ' + e.message));
  const p1 = track(1, context.eval('slow.applySyncPromise()', { timeout: 1 }));
  await delay(10);
  const p2 = track(2, context.eval('host.applySync()'));
  await delay(20);
  const p3 = track(3, context.eval('3'));
  assert.equal(context.evalSync('1 + 1'), 2, 'a sync call runs while the async one waits');
  await Promise.all([p1, p2, p3]);
  assert.deepEqual(order, ['1 ok', '2 ok', '3 ok']);
  isolate.dispose();
});

// The guest face of items 8, 13, 14 and 15 (isolated-vm 5.0.4 gives the same arrays on both
// faces, except item 13 inside a guest, where its outcome for createContext and compileScript
// varies from run to run: a race between its pool thread and the disposal).
sameOnBothFaces('sync methods on handles of the isolate an async call runs in (item 8)', `
  const inner = new ivm.Isolate();
  const c = await inner.createContext();
  await c.global.set('isolate', inner);
  await c.global.set('context', c);
  const out = [];
  out.push(await c.eval('isolate.compileScriptSync("6*7").runSync(context)'));
  out.push(await c.eval('context.evalSync("1 + 1") + isolate.createContextSync().evalSync("2")'));
  inner.dispose();
  return out;
`, [42, 4]);

// On both faces the isolate's thread can finish the first call before the disposal when the
// disposing thread is held up (a collection running finalizers, the OS): that call then
// resolved rightly and the one queued behind it is under way. Each face gives one of the valid
// outcomes every time, and the expected one (nothing finished first) within a few attempts.
test('both faces: dispose right after a call to an idle isolate: that call is under way (item 13)', async () => {
  const body = `
    const out = [];
    for (const call of ['createContext', 'compileScript', 'eval']) {
      const inner = new ivm.Isolate();
      const ctx = await inner.createContext();
      const p = call === 'eval' ? ctx.eval('1') : call === 'compileScript' ? inner.compileScript('1') : inner.createContext();
      const queued = ctx.eval('2');
      inner.dispose();
      const r = await Promise.allSettled([p, queued]);
      out.push(call + ': ' + r.map((x) => x.status === 'fulfilled' ? 'ok' : x.reason.message).join(' / '));
    }
    return out;
  `;
  const [D, X] = ['Isolate was disposed during execution', 'Isolate is disposed'];
  const valid = {
    createContext: [`ok / ${X}`, `ok / ${D}`, 'ok / ok'],
    compileScript: [`ok / ${X}`, `ok / ${D}`, 'ok / ok'],
    eval: [`${D} / ${X}`, `ok / ${D}`, 'ok / ok'],
  };
  const expected = [`createContext: ok / ${X}`, `compileScript: ok / ${X}`, `eval: ${D} / ${X}`];
  const seen = { host: false, guest: false };
  for (let attempt = 0; attempt < 6 && !(seen.host && seen.guest); attempt++) {
    const faces = await bothFaces(body);
    for (const [face, got] of [['host', faces[0]], ['guest', faces[1]]]) {
      for (const line of got) {
        const [call, outcome] = line.split(': ');
        assert.ok(valid[call].includes(outcome), `${face}: ${line}`);
      }
      if (String(got) === String(expected)) seen[face] = true;
    }
  }
  assert.deepEqual(seen, { host: true, guest: true });
});

// A call keeps the handles it uses until it ran: releasing them right after issuing the call,
// while the isolate is still busy with an earlier one, does not make it fail (isolated-vm 5.0.4
// gives the same array on both faces; ours failed all but one with "… has been released").
sameOnBothFaces('releasing a handle right after issuing a call on it does not overtake the call', `
  const inner = new ivm.Isolate();
  const ctx = await inner.createContext();
  const busy = () => { ctx.eval('{ const t = Date.now(); while (Date.now() - t < 20); }'); };
  const settle = (p) => p.then((v) => v, (e) => 'err ' + e.message);
  const fresh = async () => { const c = await inner.createContext(); await c.eval('globalThis.x = 5; globalThis.f = (a) => a * 2'); return c; };
  const out = [];
  let c = await fresh(); busy(); let p = settle(c.eval('x + 1')); c.release(); out.push(await p);
  c = await fresh(); busy(); p = settle(c.evalClosure('return $0 + x', [2])); c.release(); out.push(await p);
  c = await fresh(); const g = c.global; busy(); p = settle(g.get('x')); g.release(); out.push(await p);
  c = await fresh(); const f = await c.eval('f', { reference: true }); busy(); p = settle(f.apply(undefined, [21])); f.release(); out.push(await p);
  c = await fresh(); const o = await c.eval('({ y: 1 })', { reference: true }); busy(); p = settle(o.copy().then((v) => v.y)); o.release(); out.push(await p);
  c = await fresh(); let s = await inner.compileScript('x * 3'); busy(); p = settle(s.run(c)); s.release(); out.push(await p);
  c = await fresh(); s = await inner.compileScript('x * 4'); busy(); p = settle(s.run(c)); c.release(); out.push(await p);
  c = await fresh(); const m = await inner.compileModule('export default 1'); await m.instantiate(c, () => {}); busy(); p = settle(m.evaluate()); m.release(); out.push(String(await p));
  inner.dispose();
  return out;
`, [6, 7, 5, 42, 1, 15, 20, 'undefined']);

// The Context parameter of script.run* and module.instantiate*, checked as isolated-vm 5.0.4
// does (its texts, "something else" included), on both faces.
sameOnBothFaces('a bad context argument gets isolated-vm\'s texts', `
  const inner = new ivm.Isolate();
  const script = await inner.compileScript('1');
  const module = await inner.compileModule('export default 1');
  const out = [];
  for (const arg of [undefined, 1, {}, () => {}]) {
    for (const call of [() => script.run(arg), () => module.instantiate(arg, () => {})]) {
      try { await call(); out.push('ok'); } catch (e) { out.push(e.constructor.name + ': ' + e.message); }
    }
  }
  inner.dispose();
  return out;
`, [
  'TypeError: `undefined` requires at least 1 parameter', 'TypeError: `undefined` requires at least 1 parameter',
  'TypeError: `undefined` requires parameter 1 to be an object', 'TypeError: `undefined` requires parameter 1 to be an object',
  'TypeError: `undefined` requires parameter 1 to be something else', 'TypeError: `undefined` requires parameter 1 to be something else',
  'TypeError: `undefined` requires parameter 1 to be something else', 'TypeError: `undefined` requires parameter 1 to be something else',
]);

// module.instantiate holds its module and context from the call: releasing either while the
// resolver runs does not make it fail (as isolated-vm 5.0.4; ours failed on the host face).
sameOnBothFaces('releasing the module or the context while instantiate resolves does not fail it', `
  const inner = new ivm.Isolate();
  const settle = (p) => p.then((v) => 'ok ' + v, (e) => 'err ' + e.message);
  const out = [];
  let c = await inner.createContext();
  let m = await inner.compileModule('export default 1');
  let p = settle(m.instantiate(c, () => {})); c.release(); out.push(await p);
  c = await inner.createContext();
  m = await inner.compileModule('export default 1');
  p = settle(m.instantiate(c, () => {})); m.release(); out.push(await p);
  c = await inner.createContext();
  m = await inner.compileModule('import x from "d"; export default x');
  const d = await inner.compileModule('export default 2');
  p = settle(m.instantiate(c, async () => d)); c.release(); out.push(await p);
  m = await inner.compileModule('export default 3');
  m.release();
  out.push(await settle(m.instantiate(await inner.createContext(), () => {})));
  inner.dispose();
  return out;
`, ['ok undefined', 'ok undefined', 'ok undefined', 'err Module has been released']);

sameOnBothFaces('cpuTime and wallTime move during an async call (item 14)', `
  const inner = new ivm.Isolate();
  const c = await inner.createContext();
  const before = [inner.cpuTime, inner.wallTime];
  const running = c.eval('const t = Date.now(); while (Date.now() - t < 200);');
  const t0 = Date.now(); while (Date.now() - t0 < 100);
  const during = [inner.cpuTime, inner.wallTime];
  await running;
  const after = [inner.cpuTime, inner.wallTime];
  inner.dispose();
  return [typeof during[0], during[0] > before[0] + 10000000n, during[1] > before[1] + 50000000n, during[0] < after[0], after[1] > 150000000n];
`, ['bigint', true, true, true, true]);

sameOnBothFaces('code generation from strings is limited to memoryLimit / 8 characters (item 15)', `
  const inner = new ivm.Isolate({ memoryLimit: 8 });
  const c = inner.createContextSync();
  const out = [];
  for (const code of ['eval("1".repeat(1048577))', 'new Function("return " + "1".repeat(1048577))', 'eval("1".repeat(1048576 - 16)).toString().length > 0']) {
    try { out.push(c.evalSync(code)); } catch (e) { out.push(e.constructor.name + ': ' + e.message); }
  }
  inner.dispose();
  return out;
`, ['Error: Code generation from strings disallowed for this context', 'Error: Code generation from strings disallowed for this context', true]);

// Item 9: after the boundary marker come the caller's frames, on the host and for a call a guest
// makes into an isolate it created (isolated-vm 5.0.4 gives these same lines).
test('timeout stacks go on with the caller frames after the boundary, also for nested calls (item 9)', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  function callerOfSpin() { return context.evalSync('function spin() { for (;;) {} }\nspin()', { timeout: 20 }); }
  let stack;
  try { callerOfSpin(); } catch (e) { stack = e.stack.split('\n'); }
  assert.deepEqual(stack.slice(0, 4), ['Error: Script execution timed out.', '    at spin (<isolated-vm>:1:19)', '    at <isolated-vm>:2:1', '    at (<isolated-vm boundary>)']);
  assert.match(stack[4], /^ {4}at callerOfSpin \(.*dropin\.test\.mjs:\d+:\d+\)$/);
  assert.deepEqual(context.evalSync(`
    const inner = new ivm.Isolate();
    const c = inner.createContextSync();
    function guestCaller() { return c.evalSync('function spin() { for (;;) {} }\\nspin()', { timeout: 20 }); }
    let s;
    try { guestCaller() } catch (e) { s = e.stack }
    s.split('\\n').slice(0, 6)`, { copy: true }), [
    'Error: Script execution timed out.', '    at spin (<isolated-vm>:1:19)', '    at <isolated-vm>:2:1',
    '    at (<isolated-vm boundary>)', '    at guestCaller (<isolated-vm>:4:39)', '    at <isolated-vm>:6:11',
  ]);
  isolate.dispose();
});

// Item 11: a rejection handed over by a sync call with promise: true is not an unhandled one.
test('sync calls with promise: true: the rejections they hand over are not unhandled (item 11)', async () => {
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const fn = context.evalSync('(function () { return Promise.reject(new RangeError("f")) })', { reference: true });
    const handed = [
      context.evalSync('Promise.reject(new Error("e"))', { promise: true }),
      context.evalClosureSync('return Promise.reject(new TypeError("c"))', [], { result: { promise: true } }),
      fn.applySync(undefined, [], { result: { promise: true } }),
    ].map((p) => p.then(() => 'resolved', (e) => e.message));
    // The caller handles the promises it got; nothing else may report the guest's rejections
    // (as in isolated-vm 5.0.4; a promise handled only later is reported by Node in both).
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await Promise.all(handed), ['e', 'c', 'f']);
    assert.deepEqual(unhandled, []);
    isolate.dispose();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
