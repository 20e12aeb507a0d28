// compileScriptSync of the same generated ~1 MB script as compile1MB, with `cachedData` produced
// once in setup (in an isolate of its own): V8 deserializes the cache instead of parsing.
// Each op compiles in a fresh isolate (see 101-compile-1mb.mjs for why); every result is checked
// for `cachedDataRejected === false` after the batch, so a rejected cache cannot silently turn
// this into the uncached case.
import { EXPECTED, SOURCE, freshIsolates } from './101-compile-1mb.mjs';

export default {
  name: 'compile1MBCached',
  title: `compileScriptSync(~${Math.round(SOURCE.length / 1e4) / 100} MB script, { cachedData }), fresh isolate`,
  kind: 'time',
  batch: 5,
  setup(ivm) {
    const producer = new ivm.Isolate();
    const cachedData = producer.compileScriptSync(SOURCE, { produceCachedData: true }).cachedData;
    producer.dispose();
    const pool = freshIsolates(ivm);
    return {
      check() {
        const [isolate] = pool.prepare(1);
        const script = isolate.compileScriptSync(SOURCE, { cachedData });
        const ok = cachedData instanceof ivm.ExternalCopy && script.cachedDataRejected === false &&
          script.runSync(isolate.createContextSync()) === EXPECTED;
        pool.prepare(0);
        return ok;
      },
      beforeBatch: (n) => pool.prepare(n),
      run: () => pool.next().compileScriptSync(SOURCE, { cachedData }),
      afterBatch(scripts) {
        if (scripts.some((s) => s.cachedDataRejected !== false)) throw new Error('compile1MBCached: the cache was rejected');
      },
      teardown() {
        pool.prepare(0);
        cachedData.release();
      },
    };
  },
};
