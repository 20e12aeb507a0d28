// guest -> host call through a plain host function set on the global
// (isolated-vm 5 wraps it in a Callback). Like `callbackRef`, the timed op is one
// script.runSync() whose script makes one call.
export default {
  name: 'callbackFn',
  title: "guest → host via plain function: script.runSync() of 'cb(1, 2)' (incl. 1 script run)",
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    let calls = 0;
    context.global.setSync('cb', (a, b) => (calls++, a + b));
    const script = isolate.compileScriptSync('cb(1, 2)');
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
