// reference.getSync(key) of a number property of a guest object (a Reference made once).
export default {
  name: 'getSync',
  title: "objRef.getSync('x') (property of a guest object)",
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    context.evalSync('globalThis.obj = { x: 7 }');
    const obj = context.global.getSync('obj', { reference: true });
    return {
      check: () => obj.getSync('x') === 7,
      run: () => obj.getSync('x'),
      teardown: () => isolate.dispose(),
    };
  },
};
