// new ivm.Reference(hostObject): a handle object made on the host (no isolate involved).
export default {
  name: 'referenceNew',
  title: 'new Reference(hostObject)',
  kind: 'time',
  batch: 100,
  setup(ivm) {
    const target = { a: 1 };
    return {
      check: () => new ivm.Reference(target).deref() === target,
      run: () => new ivm.Reference(target),
      teardown: () => {},
    };
  },
};
