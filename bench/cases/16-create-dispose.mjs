// new Isolate() + createContextSync() + dispose(), back to back: the whole life of a
// short-lived isolate as a request handler would have it. Work that either library leaves to
// a background thread after dispose() returns competes with the next creation here.
export default {
  name: 'createDispose',
  title: 'new Isolate() + createContextSync() + dispose()',
  kind: 'time',
  batch: 10,
  setup(ivm) {
    return {
      run() {
        const isolate = new ivm.Isolate();
        isolate.createContextSync();
        isolate.dispose();
      },
    };
  },
};
