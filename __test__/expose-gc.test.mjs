// `node --expose-gc` reaches guests (issue 11 item 17, SPEC §5): isolated-vm's guests share
// Node's V8 flags, so with the flag every context has `gc()`; without it none has. Each case in
// a child process (the flag is per process, read before V8 starts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const program = `
  const ivm = require(${JSON.stringify(root)});
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('ivm', ivm);
  const out = [
    context.evalSync('typeof gc'),
    isolate.createContextSync().evalSync('typeof gc'),
    context.evalSync('typeof gc === "function" ? (gc(), "collected") : "none"'),
    // A nested isolate's contexts too (the guest face).
    context.evalSync('new ivm.Isolate().createContextSync().evalSync("typeof gc")'),
  ];
  console.log(out.join());
`;

function run(flags) {
  return execFileSync(process.execPath, [...flags, '-e', program], { encoding: 'utf8' }).trim();
}

test('with node --expose-gc every guest context has gc(), nested ones too', () => {
  assert.equal(run(['--expose-gc']), 'function,function,collected,function');
});

test('without the flag guests have no gc', () => {
  assert.equal(run([]), 'undefined,undefined,none,undefined');
});
