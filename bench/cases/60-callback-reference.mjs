// guest -> host call through a Reference to a host function. The timed op is one
// script.runSync() whose script makes one call, so it includes the cost of a script
// run (compare with `runSync`, precompiled '1+1').
export default {
  name: 'callbackRef',
  title: "guest → host via Reference: script.runSync() of 'hostAdd.applySync(undefined, [1, 2])' (incl. 1 script run)",
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    let calls = 0;
    context.global.setSync('hostAdd', new ivm.Reference((a, b) => (calls++, a + b)));
    const script = isolate.compileScriptSync('hostAdd.applySync(undefined, [1, 2])');
    return {
      check: () => {
        const before = calls;
        return script.runSync(context) === 3 && calls === before + 1;
      },
      run: () => script.runSync(context),
      teardown: () => isolate.dispose(),
    };
  },
};
