// The code cache (SPEC §1.3 CachedDataOptions, isolated-vm's test cached-data.js):
// `produceCachedData` gives the compiled Script/Module an own `cachedData` (an ExternalCopy of an
// ArrayBuffer); `cachedData` makes V8 try that cache and sets `cachedDataRejected` to its verdict.
//
// V8 keeps an in-isolate compilation cache keyed by the source text: compiling a source the
// isolate has already compiled never looks at `cachedData` (so it is never rejected). Every
// compile that consumes a cache therefore runs in a fresh isolate.
//
// Scripts: checked against isolated-vm 5.0.4. Modules: 5.0.4 produces module caches but never
// consumes one (it compiles modules without kConsumeCodeCache), so `cachedDataRejected` is always
// false there; the tests marked NEW need a real verdict for modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm-rs';

// Enough code for V8 to produce a real cache: functions, an eagerly run IIFE, data.
const scriptSource = [
  ...Array.from({ length: 300 }, (_, i) => `function f${i}(a, b) { const x = a * ${i} + b; return x > 1000 ? x % 7 : [x, a, b].reduce((s, v) => s + v, 0); }`),
  'const table = (() => { const t = {}; for (let i = 0; i < 100; i++) t["k" + i] = f1(i, 2); return t; })();',
  'f299(3, 4) + table.k10;',
].join('\n');
const expected = (() => {
  const f = (i, a, b) => { const x = a * i + b; return x > 1000 ? x % 7 : [x, a, b].reduce((s, v) => s + v, 0); };
  return f(299, 3, 4) + f(1, 10, 2);
})();
const moduleSource = `${scriptSource.replace(/\n[^\n]*$/, '')}\nexport const result = f299(3, 4) + table.k10;\nexport default f1;`;

// Compiles in a fresh isolate, runs `use(result, isolate)`, disposes the isolate.
function inFreshIsolate(use) {
  const isolate = new ivm.Isolate();
  try {
    return use(isolate);
  } finally {
    isolate.dispose();
  }
}

const produceScriptCache = (source = scriptSource) => inFreshIsolate((isolate) => isolate.compileScriptSync(source, { produceCachedData: true }).cachedData);
const produceModuleCache = (source = moduleSource) => inFreshIsolate((isolate) => isolate.compileModuleSync(source, { produceCachedData: true }).cachedData);
const garbage = () => new ivm.ExternalCopy(new Uint8Array(100).buffer);

function runModule(isolate, module) {
  const context = isolate.createContextSync();
  module.instantiateSync(context, () => {});
  module.evaluateSync();
  return module.namespace.getSync('result');
}

test('no cached-data options: no cached-data properties', async () => {
  inFreshIsolate((isolate) => {
    for (const compiled of [isolate.compileScriptSync(scriptSource), isolate.compileModuleSync(moduleSource),
      isolate.compileScriptSync('1', { produceCachedData: false, cachedData: undefined })]) {
      assert.equal(Object.hasOwn(compiled, 'cachedData'), false);
      assert.equal(Object.hasOwn(compiled, 'cachedDataRejected'), false);
    }
  });
});

test('produceCachedData: an own cachedData property holding an ExternalCopy of an ArrayBuffer', async () => {
  const isolate = new ivm.Isolate();
  const script = isolate.compileScriptSync(scriptSource, { produceCachedData: true });
  const module = await isolate.compileModule(moduleSource, { produceCachedData: true });
  const asyncScript = await isolate.compileScript('function g() { return 1 } g()', { produceCachedData: true });
  for (const compiled of [script, module, asyncScript]) {
    assert.ok(compiled.cachedData instanceof ivm.ExternalCopy);
    const bytes = compiled.cachedData.copy();
    assert.ok(bytes instanceof ArrayBuffer);
    assert.ok(bytes.byteLength > 0);
    assert.deepEqual(
      Object.entries(Object.getOwnPropertyDescriptor(compiled, 'cachedData') ?? {}).filter(([k]) => k !== 'value'),
      [['writable', true], ['enumerable', true], ['configurable', true]],
      'an own data property, as isolated-vm sets it');
    assert.equal(Object.hasOwn(compiled, 'cachedDataRejected'), false, 'no verdict without cachedData');
  }
  assert.equal(script.runSync(isolate.createContextSync()), expected, 'the script still runs');
  isolate.dispose();
});

test('scripts: the cache of the same source is accepted, and the script runs', async () => {
  const cachedData = produceScriptCache();
  inFreshIsolate((isolate) => {
    const script = isolate.compileScriptSync(scriptSource, { cachedData });
    assert.equal(script.cachedDataRejected, false);
    assert.equal(Object.hasOwn(script, 'cachedData'), false);
    assert.equal(script.runSync(isolate.createContextSync()), expected);
  });
  const isolate = new ivm.Isolate();
  const script = await isolate.compileScript(scriptSource, { cachedData, filename: 'file:///other-name.js' });
  assert.equal(script.cachedDataRejected, false, 'the filename is not part of the cache key');
  assert.equal(await script.run(isolate.createContextSync()), expected);
  isolate.dispose();
  // The ExternalCopy is not consumed: it can be used again.
  inFreshIsolate((again) => assert.equal(again.compileScriptSync(scriptSource, { cachedData }).cachedDataRejected, false));
});

test('scripts: a cache of other source, garbage or no bytes is rejected, and the script still runs', async () => {
  const cachedData = produceScriptCache();
  const otherSource = `${scriptSource}\n;1`;
  for (const [label, source, data] of [
    ['other source', otherSource, cachedData],
    ['garbage', scriptSource, garbage()],
    ['empty', scriptSource, new ivm.ExternalCopy(new ArrayBuffer(0))],
    ['another cache', scriptSource, produceScriptCache('function h() { return 2 } h()')],
  ]) {
    inFreshIsolate((isolate) => {
      const script = isolate.compileScriptSync(source, { cachedData: data });
      assert.equal(script.cachedDataRejected, true, label);
      assert.equal(script.runSync(isolate.createContextSync()), source === otherSource ? 1 : expected, label);
    });
  }
  const isolate = new ivm.Isolate();
  const script = await isolate.compileScript(scriptSource, { cachedData: garbage() });
  assert.equal(script.cachedDataRejected, true, 'async');
  isolate.dispose();
});

test('scripts: with both options a rejected cache is replaced, an accepted one is not', () => {
  const replacement = inFreshIsolate((isolate) => {
    const script = isolate.compileScriptSync(scriptSource, { cachedData: garbage(), produceCachedData: true });
    assert.equal(script.cachedDataRejected, true);
    assert.ok(script.cachedData instanceof ivm.ExternalCopy, 'a fresh cache is produced');
    return script.cachedData;
  });
  inFreshIsolate((isolate) => {
    const script = isolate.compileScriptSync(scriptSource, { cachedData: replacement, produceCachedData: true });
    assert.equal(script.cachedDataRejected, false, 'the fresh cache is accepted');
    assert.equal(Object.hasOwn(script, 'cachedData'), false, 'nothing new to produce');
  });
});

test('the cache survives a trip through plain bytes (e.g. a file)', () => {
  const bytes = Buffer.from(produceScriptCache().copy());
  const restored = new ivm.ExternalCopy(new Uint8Array(bytes).buffer);
  inFreshIsolate((isolate) => {
    assert.equal(isolate.compileScriptSync(scriptSource, { cachedData: restored }).cachedDataRejected, false);
  });
});

test('cachedData must be an ExternalCopy of an ArrayBuffer', async () => {
  const isolate = new ivm.Isolate();
  const released = new ivm.ExternalCopy(new ArrayBuffer(8));
  released.release();
  for (const compile of ['compileScriptSync', 'compileModuleSync']) {
    assert.throws(() => isolate[compile]('1', { cachedData: 5 }), { name: 'TypeError', message: '`cachedData` must be an object' });
    for (const value of [new ArrayBuffer(8), new ivm.ExternalCopy({ a: 1 }), new ivm.ExternalCopy(new Uint8Array(8)), released, {}]) {
      assert.throws(() => isolate[compile]('1', { cachedData: value }),
        { name: 'TypeError', message: '`cachedData` must be an ExternalCopy to ArrayBuffer' }, compile);
    }
  }
  await assert.rejects(isolate.compileScript('1', { cachedData: 5 }), { name: 'TypeError', message: '`cachedData` must be an object' });
  await assert.rejects(isolate.compileModule('1', { cachedData: new ArrayBuffer(8) }),
    { name: 'TypeError', message: '`cachedData` must be an ExternalCopy to ArrayBuffer' });
  assert.equal(isolate.compileScriptSync('2', { cachedData: undefined }).runSync(isolate.createContextSync()), 2);
  isolate.dispose();
});

test('modules: the cache of the same source is accepted, and the module runs', async () => {
  const cachedData = produceModuleCache();
  inFreshIsolate((isolate) => {
    const module = isolate.compileModuleSync(moduleSource, { cachedData });
    assert.equal(module.cachedDataRejected, false);
    assert.equal(Object.hasOwn(module, 'cachedData'), false);
    assert.equal(runModule(isolate, module), expected);
  });
  const isolate = new ivm.Isolate();
  const module = await isolate.compileModule(moduleSource, { cachedData });
  assert.equal(module.cachedDataRejected, false);
  assert.equal(runModule(isolate, module), expected);
  isolate.dispose();
});

// NEW: 5.0.4 never consumes module caches (always `cachedDataRejected: false`).
test('modules: a cache of other source or garbage is rejected, and the module still runs', async () => {
  const cachedData = produceModuleCache();
  const otherSource = `${moduleSource}\nexport const extra = 1;`;
  for (const [label, source, data] of [
    ['other source', otherSource, cachedData],
    ['garbage', moduleSource, garbage()],
  ]) {
    inFreshIsolate((isolate) => {
      const module = isolate.compileModuleSync(source, { cachedData: data });
      assert.equal(module.cachedDataRejected, true, label);
      assert.equal(runModule(isolate, module), expected, label);
    });
  }
  // A text that is both a valid script and a valid module: a script's cache does not fit a module.
  inFreshIsolate((isolate) => {
    const module = isolate.compileModuleSync(scriptSource, { cachedData: produceScriptCache(scriptSource) });
    assert.equal(module.cachedDataRejected, true, 'a script cache of the same text');
    const context = isolate.createContextSync();
    module.instantiateSync(context, () => {});
    assert.equal(module.evaluateSync(), undefined);
  });
  const isolate = new ivm.Isolate();
  const module = await isolate.compileModule(moduleSource, { cachedData: garbage(), produceCachedData: true });
  assert.equal(module.cachedDataRejected, true, 'async');
  assert.ok(module.cachedData instanceof ivm.ExternalCopy, 'a rejected cache is replaced');
  isolate.dispose();
  inFreshIsolate((fresh) => assert.equal(fresh.compileModuleSync(moduleSource, { cachedData: module.cachedData }).cachedDataRejected, false));
});

test('a guest produces and consumes caches on nested isolates', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  context.global.setSync('source', scriptSource);
  assert.deepEqual(context.evalSync(`
    const compileFresh = (options) => {
      const inner = new ivm.Isolate();
      const script = inner.compileScriptSync(source, options);
      const out = [script.cachedDataRejected, script.cachedData instanceof ivm.ExternalCopy, script.runSync(inner.createContextSync())];
      inner.dispose();
      return [out, script.cachedData];
    };
    const [produced, cachedData] = compileFresh({ produceCachedData: true });
    const [accepted] = compileFresh({ cachedData });
    const [rejected] = compileFresh({ cachedData: new ivm.ExternalCopy(new Uint8Array(100).buffer) });
    [produced, accepted, rejected, cachedData.copy().byteLength > 0];
  `, { copy: true }), [[undefined, true, expected], [false, false, expected], [true, false, expected], true]);
  isolate.dispose();
});
