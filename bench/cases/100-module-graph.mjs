// compileModuleSync of a 50-module graph + instantiateSync (resolver called once per import) +
// evaluateSync of the root + one namespace read: the cost of loading a small ES-module program.
//
// The graph is a binary tree: module i imports the default, `value` and `twice` exports of its
// children 2i+1 and 2i+2 (49 resolver calls per op) and exports a value computed from them.
// Every op compiles fresh source texts (a per-op comment at the top), so no op is served from
// the isolate's compilation cache of an earlier one; the texts are generated before the batch's
// clock starts. Each batch gets a fresh isolate and context (created and the previous one
// disposed before the clock starts), so modules do not pile up in one context across the run.
const N = 50;
const kids = (i) => [2 * i + 1, 2 * i + 2].filter((k) => k < N);

function source(i, tag) {
  const imports = kids(i).map((k) => `import m${k}, { value as v${k}, twice as t${k} } from './m${k}.js';`);
  const sum = kids(i).map((k) => `v${k} + t${k}(1)`).join(' + ') || '0';
  const children = kids(i).map((k) => `m${k}.id`).join(', ');
  return `/* op ${tag} */\n${imports.join('\n')}
export const value = ${i} + ${sum};
export function twice(x) { return x * 2; }
export default { id: ${i}, children: [${children}] };
`;
}

// value(i) = i + sum over children k of (value(k) + 2)
const value = (i) => i + kids(i).reduce((s, k) => s + value(k) + 2, 0);
const EXPECTED = value(0);

export default {
  name: 'moduleGraph',
  title: 'compile + instantiate + evaluate a 50-module graph (sync)',
  kind: 'time',
  batch: 10,
  setup(ivm) {
    let isolate = null;
    let context = null;
    let tag = 0;
    let pending = [];
    const fresh = () => {
      isolate?.dispose();
      isolate = new ivm.Isolate();
      context = isolate.createContextSync();
    };
    const prepare = (n) => {
      pending = [];
      for (let op = 0; op < n; op++) {
        const t = ++tag;
        pending.push(Array.from({ length: N }, (_, i) => source(i, t)));
      }
    };
    const load = (sources) => {
      const modules = new Map();
      for (let i = 0; i < N; i++) {
        modules.set(`./m${i}.js`, isolate.compileModuleSync(sources[i], { filename: `file:///m${i}.js` }));
      }
      const root = modules.get('./m0.js');
      root.instantiateSync(context, (specifier) => modules.get(specifier));
      root.evaluateSync();
      return root.namespace.getSync('value');
    };
    return {
      check() {
        fresh();
        prepare(1);
        return load(pending.pop()) === EXPECTED;
      },
      beforeBatch(n) {
        fresh();
        prepare(n);
      },
      run: () => load(pending.pop()),
      afterBatch(results) {
        if (results.some((v) => v !== EXPECTED)) throw new Error(`moduleGraph: wrong result ${results}`);
      },
      teardown: () => isolate?.dispose(),
    };
  },
};
