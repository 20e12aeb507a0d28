// ESM entry: the same objects as the CommonJS export, as a default and as named exports.
import { createRequire } from 'node:module';
const ivm = createRequire(import.meta.url)('./index.js');
export default ivm;
export const { Isolate, Context, Script, Reference, NativeModule } = ivm;
// Declared by index.d.ts; not implemented yet (undefined until they land), exported so that
// named imports link.
export const { ExternalCopy, Callback, Module, lib } = ivm;
