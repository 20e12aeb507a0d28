export default {
  name: 'runSync',
  title: "script.runSync(context) (precompiled '1+1')",
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const script = isolate.compileScriptSync('1+1');
    return {
      check: () => script.runSync(context) === 2,
      run: () => script.runSync(context),
      teardown: () => isolate.dispose(),
    };
  },
};
