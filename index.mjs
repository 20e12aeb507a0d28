// ESM entry: the same objects as the CommonJS export, as a default and as named exports.
import { createRequire } from 'node:module';
const ivm = createRequire(import.meta.url)('./index.js');
export default ivm;
export const { Isolate, Context, Script, Reference } = ivm;
