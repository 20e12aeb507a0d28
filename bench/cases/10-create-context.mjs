// new Isolate() + isolate.createContextSync(). Disposal is NOT timed here:
// the isolates created by a batch are disposed after the batch's clock stops
// (see 15-dispose.mjs for the cost of dispose()).
export default {
  name: 'create',
  title: 'new Isolate() + createContextSync()',
  kind: 'time',
  batch: 10,
  setup(ivm) {
    return {
      run() {
        const isolate = new ivm.Isolate();
        const context = isolate.createContextSync();
        return { isolate, context };
      },
      afterBatch(results) {
        for (const { isolate } of results) isolate.dispose();
      },
    };
  },
};
