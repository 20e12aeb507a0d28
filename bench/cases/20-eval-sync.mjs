export default {
  name: 'evalSync',
  title: "context.evalSync('1+1')",
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    return {
      check: () => context.evalSync('1+1') === 2,
      run: () => context.evalSync('1+1'),
      teardown: () => isolate.dispose(),
    };
  },
};
