// A host promise handed to a guest never surfaces as an `unhandledRejection` in Node, whatever
// the guest does with it (issue 12, item 5). In a child process, so Node's own reporting is
// what is observed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

test('rejected host promises stay handled, whatever the guest does', () => {
  const script = `
    const ivm = require(${JSON.stringify(root)});
    process.on('unhandledRejection', (r) => console.log('UNHANDLED', r && r.message));
    (async () => {
      const isolate = new ivm.Isolate();
      const context = isolate.createContextSync();
      const reject = (m) => async () => { throw new Error(m) };
      context.global.setSync('cb', new ivm.Callback(reject('async callback'), { async: true }));
      context.evalSync('cb(); 1');
      context.global.setSync('r', new ivm.Reference(reject('apply')));
      await context.eval('r.apply(undefined, [], { result: { promise: true } }); 1');
      await context.eval('r.apply(undefined, [], { result: { promise: true } }).catch(() => {}); 1');
      context.global.setSync('asp', new ivm.Reference(reject('applySyncPromise')));
      await context.eval('try { asp.applySyncPromise(undefined, []) } catch {} 1');
      context.global.setSync('plain', reject('plain function'));
      try { context.evalSync('plain(); 1') } catch (e) { console.log(e.message) }
      await new Promise((r) => setTimeout(r, 100));
      console.log('done');
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['#<Promise> could not be cloned.', 'done']);
});
