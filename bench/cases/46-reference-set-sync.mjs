// context.global.setSync(key, string): a short string into a guest global.
export default {
  name: 'setSync',
  title: "context.global.setSync('s', 'hello')",
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const global = context.global;
    return {
      check: () => (global.setSync('s', 'hello'), context.evalSync('s') === 'hello'),
      run: () => global.setSync('s', 'hello'),
      teardown: () => isolate.dispose(),
    };
  },
};
