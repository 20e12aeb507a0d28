// Resident memory per idle isolate + context. Runs in its own child process
// per library (node --expose-gc), see lib/mem-child.mjs.
export default {
  name: 'rss',
  title: 'RSS per idle isolate + context (N=100)',
  kind: 'memory',
  count: 100,
  create(ivm) {
    const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    return { isolate, context };
  },
  destroy({ isolate }) {
    isolate.dispose();
  },
};
