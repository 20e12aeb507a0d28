// guest -> host calls made back to back from one script (a guest loop calling the host).
// The timed op is one script run that makes 100 calls (divide by 100 for one call).
const CALLS = 100;
export default {
  name: 'callbackLoop',
  title: `guest → host: a guest loop making ${CALLS} plain-function calls (per script run)`,
  kind: 'time',
  batch: 1,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    let calls = 0;
    context.global.setSync('cb', (a, b) => (calls++, a + b));
    const script = isolate.compileScriptSync(`(() => { let s = 0; for (let i = 0; i < ${CALLS}; i++) s += cb(i, 1); return s })()`);
    return {
      check: () => {
        const before = calls;
        return script.runSync(context) === (CALLS * (CALLS - 1)) / 2 + CALLS && calls === before + CALLS;
      },
      run: () => script.runSync(context),
      teardown: () => isolate.dispose(),
    };
  },
};
