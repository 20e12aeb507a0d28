// TypeScript against the installed typings, checked with tsc --strict (module nodenext, emitted
// and run; module preserve with bundler resolution, checked only).
import ivm, { Isolate, type Context, ExternalCopy, type Reference } from 'isolated-vm-rs';

const isolate: Isolate = new ivm.Isolate({ memoryLimit: 32 });
const context: Context = await isolate.createContext();
const result: number = await context.eval('6 * 7');
const copy: ExternalCopy<{ list: number[] }> = new ExternalCopy({ list: [1, 2, 3] });
const fn: Reference<(a: number, b: number) => number> = await context.eval('(a, b) => a * b', { reference: true });
const product: number = fn.applySync(undefined, [6, 7]);
// @ts-expect-error memoryLimit is a number of megabytes
const misuse = () => new ivm.Isolate({ memoryLimit: '128' });
void misuse;
console.log(`typed: ${result} ${copy.copy().list.length} ${product}`);
isolate.dispose();
