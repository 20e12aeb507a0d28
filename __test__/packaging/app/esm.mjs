// ESM with the default import and named imports, as an app that installed isolated-vm-rs.
import ivm, { Isolate, ExternalCopy, Reference, Callback } from 'isolated-vm-rs';

if (ivm.Isolate !== Isolate) throw new Error('the default export and the named exports differ');
const isolate = new Isolate({ memoryLimit: 32 });
const context = await isolate.createContext();
await context.global.set('log', new Callback((s) => console.log(`guest says ${s}`)));
await context.global.set('data', new ExternalCopy({ answer: 42 }).copyInto());
await context.eval('log(data.answer)');
const add = await context.eval('(a, b) => a + b', { reference: true });
console.log(`esm: ${add instanceof Reference} ${await add.apply(undefined, [20, 22])}`);
isolate.dispose();
