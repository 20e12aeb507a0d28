// Sequential: each eval is awaited before the next one starts.
export default {
  name: 'eval',
  title: "await context.eval('1+1')",
  kind: 'time',
  async: true,
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    return {
      check: async () => (await context.eval('1+1')) === 2,
      run: () => context.eval('1+1'),
      teardown: () => isolate.dispose(),
    };
  },
};
