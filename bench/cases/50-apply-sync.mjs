// host -> guest call: Reference.applySync on a guest function, primitive args and result.
export default {
  name: 'applySync',
  title: 'fn.applySync(undefined, [1, 2]) (host → guest function)',
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const fn = context.evalClosureSync('return (a, b) => a + b', [], { result: { reference: true } });
    return {
      check: () => fn.applySync(undefined, [1, 2]) === 3,
      run: () => fn.applySync(undefined, [1, 2]),
      teardown: () => isolate.dispose(),
    };
  },
};
