// isolate.dispose() of an idle isolate that has one context.
// The isolates are created before the batch's clock starts.
export default {
  name: 'dispose',
  title: 'isolate.dispose() (isolate with 1 context)',
  kind: 'time',
  batch: 10,
  setup(ivm) {
    let pending = [];
    return {
      beforeBatch(n) {
        pending = [];
        for (let i = 0; i < n; i++) {
          const isolate = new ivm.Isolate();
          isolate.createContextSync();
          pending.push(isolate);
        }
      },
      run() {
        pending.pop().dispose();
      },
    };
  },
};
