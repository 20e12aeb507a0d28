// compileScriptSync of a generated ~1 MB script, no code cache (compare with compile1MBCached).
//
// V8 keeps a per-isolate compilation cache keyed by the source text, so compiling the same text
// twice in one isolate measures a cache lookup, not a compilation. Each op therefore compiles in
// an isolate of its own: the batch's isolates are created (and the previous batch's disposed)
// before the clock starts, and every op compiles the same text in a fresh one. The same text in a
// fresh isolate is also exactly what `cachedData` is for, so compile1MBCached measures the same
// thing with the cache. (A per-op unique comment in one isolate would work here, but not for the
// cached case: the cache would belong to another text.)

// The script: ~1 MB of small functions (V8 pre-parses them lazily), a top-level IIFE that builds a
// table through some of them (compiled eagerly), and a completion value to check. Exported for
// 102-compile-1mb-cached.mjs.
const fn = (i) => `function f${i}(a, b) { const x = a * ${i % 97} + b; if (x > 1000) { return x % 7; } ` +
  `return [x, a, b].map((v) => v + ${i % 13}).reduce((s, v) => s + v, 0); }`;
const parts = [];
let size = 0;
for (let i = 0; size < 1e6; i++) {
  parts.push(fn(i));
  size += parts[parts.length - 1].length + 1;
}
const COUNT = parts.length;
parts.push(`const table = (() => { const t = []; for (let i = 0; i < 100; i++) t.push(f${COUNT - 1}(i, 1) + f1(i, 2)); return t; })();`);
parts.push(`table.reduce((s, v) => s + v, 0) + f0(3, 4);`);
export const SOURCE = parts.join('\n');
export const EXPECTED = new Function(`${SOURCE}\nreturn table.reduce((s, v) => s + v, 0) + f0(3, 4);`)();

// A batch's worth of fresh isolates: prepare(n) disposes the previous ones and creates n new ones
// (outside the clock); next() hands them out one per op.
export function freshIsolates(ivm) {
  let isolates = [];
  let at = 0;
  return {
    prepare(n) {
      for (const isolate of isolates) isolate.dispose();
      isolates = Array.from({ length: n }, () => new ivm.Isolate());
      at = 0;
      return isolates;
    },
    next: () => isolates[at++],
  };
}

export default {
  name: 'compile1MB',
  title: `compileScriptSync(~${Math.round(SOURCE.length / 1e4) / 100} MB script), fresh isolate, no cache`,
  kind: 'time',
  batch: 5,
  setup(ivm) {
    const pool = freshIsolates(ivm);
    return {
      check() {
        const [isolate] = pool.prepare(1);
        const script = isolate.compileScriptSync(SOURCE);
        const ok = script.cachedDataRejected === undefined && script.runSync(isolate.createContextSync()) === EXPECTED;
        pool.prepare(0);
        return ok;
      },
      beforeBatch: (n) => pool.prepare(n),
      run: () => pool.next().compileScriptSync(SOURCE),
      teardown: () => pool.prepare(0),
    };
  },
};
