// ESM entry: the same objects as the CommonJS export, as a default and as named exports.
import { createRequire } from 'node:module';
const ivm = createRequire(import.meta.url)('./index.js');
export default ivm;
export const { Isolate, Context, Script, Reference, ExternalCopy, Callback, NativeModule } = ivm;
// Declared by index.d.ts but not implemented yet (undefined until they land; see README's
// compatibility table), exported so that named imports link.
export const { Module, lib } = ivm;
