'use strict';
// isolated-vm-rs: the public module. A thin facade over the native binding (binding.js loads
// the addon: a local build, else the platform package); the logic lives in Rust.
const util = require('node:util');
// The checks used here; one a runtime lacks (Deno has no `isExternal`) answers false. A plain
// object, read at load: these run for every value copied.
const types = Object.fromEntries([
  'isArgumentsObject', 'isArrayBuffer', 'isBooleanObject', 'isBoxedPrimitive', 'isDataView', 'isDate',
  'isExternal', 'isGeneratorObject', 'isMap', 'isMapIterator', 'isModuleNamespaceObject', 'isNativeError',
  'isNumberObject', 'isPromise', 'isProxy', 'isRegExp', 'isSet', 'isSetIterator', 'isSharedArrayBuffer',
  'isStringObject', 'isSymbolObject', 'isTypedArray', 'isWeakMap', 'isWeakSet',
].map((name) => [name, typeof util.types[name] === 'function' ? util.types[name] : () => false]));
const binding = require('./binding.js');
// `node --expose-gc`: guests get `gc()` too (SPEC §5), as in isolated-vm, whose guests share
// Node's V8 flags. Effective when this is the first load in the process (before any isolate).
if (typeof globalThis.gc === 'function') binding.__exposeGc();

// The hottest sync methods are plain Node-API functions (src/api/fast.rs). `applySync` reads
// the first elements of a short argument array here, where that is cheap, and passes them on.
const natives = binding.__installFastMethods(binding.Script, binding.Context, binding.Reference, binding.Isolate, binding.Module);
{
  const applySyncNative = natives.applySync;
  const applySync = {
    applySync(receiver, args, options) {
      if (Array.isArray(args)) {
        switch (args.length) {
          case 1: return applySyncNative(this, receiver, args, options, args[0]);
          case 2: return applySyncNative(this, receiver, args, options, args[0], args[1]);
          case 3: return applySyncNative(this, receiver, args, options, args[0], args[1], args[2]);
          case 4: return applySyncNative(this, receiver, args, options, args[0], args[1], args[2], args[3]);
        }
      }
      return applySyncNative(this, receiver, args, options);
    },
  }.applySync;
  Object.defineProperty(applySync, 'length', { value: 0 });
  Object.defineProperty(binding.Reference.prototype, 'applySync', { value: applySync, enumerable: true });
  // The compile methods get their option fields read here, in the order the native side
  // expects them (src/api/isolate.rs, COMPILE_FIELDS); a getter that throws fails the call as
  // it would there (the async methods reject).
  const readsOptions = (native, async, module) => function (code, options) {
    if ((typeof options !== 'object' || options === null) && typeof options !== 'function') {
      return native.apply(this, arguments);
    }
    let filename, lineOffset, columnOffset, cachedData, produceCachedData, meta;
    try {
      ({ filename, lineOffset, columnOffset, cachedData, produceCachedData } = options);
      if (module) meta = options.meta;
    } catch (err) {
      if (async) return Promise.reject(err);
      throw err;
    }
    return native.call(this, code, options, filename, lineOffset, columnOffset, cachedData, produceCachedData, meta);
  };
  for (const name of ['compileScriptSync', 'compileScript', 'compileModuleSync', 'compileModule']) {
    const method = readsOptions(natives[name], !name.endsWith('Sync'), name.startsWith('compileModule'));
    Object.defineProperty(method, 'name', { value: name });
    Object.defineProperty(method, 'length', { value: 0 });
    Object.defineProperty(binding.Isolate.prototype, name, { value: method, enumerable: true });
  }
}

function hostObject(obj) {
  if ((typeof obj !== 'object' && typeof obj !== 'function') || obj === null) {
    throw new TypeError('Reference is not an object');
  }
  for (let o = obj; o !== null; o = Object.getPrototypeOf(o)) {
    if (types.isProxy(o)) throw new TypeError('Object is or has proxy');
  }
}

// Node's own structured-clone serialiser, for `new ExternalCopy(object)` (see
// src/bridge/convert/serialized.rs). Bun's and Deno's `node:v8` write other formats: there the
// native clone does all the work.
const CLONE_FAILED = Object.freeze({});
// WebAssembly.Module, or null where Node runs without WebAssembly (`--jitless`).
const WasmModule = typeof WebAssembly === 'object' && WebAssembly !== null ? WebAssembly.Module : null;
let v8 = null;
let Serializer = null;
if (!process.versions.bun && typeof Deno === 'undefined') {
  try {
    v8 = require('node:v8');
    Serializer = class extends v8.Serializer {
      constructor() {
        super();
        this.sabs = [];
      }
      _getDataCloneError() {
        return CLONE_FAILED;
      }
      _getSharedArrayBufferId(sab) {
        return this.sabs.push(sab) - 1;
      }
    };
  } catch {
    Serializer = null;
  }
}

// The export itself, once built (it can be transferred into isolates like any handle).
let library = null;

// Checks Node-API lacks, used by the native structured clone of host values.
// visit() returns -(id + 1) for an object seen before, a type code (< 100) for a cloneable
// object (registering it), or 100 for an object that cannot be cloned.
binding.__setHelpers({
  // isolate.getHeapStatistics*() on the host, in the order of src/isolate/ops/heap.rs.
  heapStatistics: (total_heap_size, total_heap_size_executable, total_physical_size, total_available_size,
    used_heap_size, heap_size_limit, malloced_memory, peak_malloced_memory, does_zap_garbage,
    externally_allocated_size) => ({
    total_heap_size, total_heap_size_executable, total_physical_size, total_available_size, used_heap_size,
    heap_size_limit, malloced_memory, peak_malloced_memory, does_zap_garbage, externally_allocated_size,
  }),
  visit(seen, v) {
    const id = seen.get(v);
    if (id !== undefined) return -(id + 1);
    let code;
    if (types.isProxy(v)) code = 100;
    else if (Array.isArray(v)) code = 1;
    else if (types.isDate(v)) code = 2;
    else if (types.isRegExp(v)) code = 3;
    else if (types.isMap(v)) code = 4;
    else if (types.isSet(v)) code = 5;
    else if (types.isBoxedPrimitive(v)) code = types.isSymbolObject(v) ? 100 : 6;
    else if (types.isArrayBuffer(v)) code = 7;
    else if (types.isTypedArray(v)) code = 8;
    else if (types.isDataView(v)) code = 9;
    else if (types.isSharedArrayBuffer(v)) code = 12;
    else if (v instanceof binding.ExternalCopy || v instanceof binding.ExternalCopyInto || v instanceof binding.Reference ||
      v instanceof binding.Callback || v instanceof binding.Dereference || v instanceof binding.Isolate ||
      v instanceof binding.Context || v instanceof binding.Script || v instanceof binding.Module || v === library) code = 11;
    else if (types.isNativeError(v) || v instanceof Error) code = 10;
    else if (types.isPromise(v) || types.isWeakMap(v) || types.isWeakSet(v) ||
      types.isGeneratorObject(v) || types.isMapIterator(v) || types.isSetIterator(v) ||
      types.isModuleNamespaceObject(v) || types.isArgumentsObject(v) || types.isExternal(v)) code = 100;
    // Compiled WebAssembly cannot cross between Node's V8 and the isolates' own V8.
    else if (WasmModule !== null && v instanceof WasmModule) code = 100;
    else code = 0;
    if (code < 11) seen.set(v, seen.size);
    return code;
  },
  // [bytes, sharedArrayBuffers], or null when the value needs the native clone.
  serialize(v) {
    // Node's serialiser writes nothing for a WebAssembly.Module (V8 without a transfer id):
    // the native walk reports it as not cloneable instead.
    if (Serializer === null || (WasmModule !== null && v instanceof WasmModule)) return null;
    const s = new Serializer();
    s.writeHeader();
    try {
      s.writeValue(v);
    } catch (e) {
      if (e === CLONE_FAILED) return null;
      throw e;
    }
    return [s.releaseBuffer(), s.sabs];
  },
  deserialize(bytes) {
    const d = new v8.Deserializer(bytes);
    d.readHeader();
    return d.readValue();
  },
  // Builds host objects from the tape of src/transfer/wire/tape.rs (opcodes there).
  decodeTape(ops, nums, text) {
    // An object literal for a repeated key sequence: `{ "a": (skip(), value()), ... }` makes
    // the object with its final layout at once (and defines, never assigns, like the
    // deserialiser). null when a key must not appear in a literal.
    function shapeBuilder(keyNames) {
      if (keyNames.length === 0 || keyNames.length > 64 || keyNames.includes(null)) return null;
      const body = keyNames.map((k) => `${k === '__proto__' ? '["__proto__"]' : JSON.stringify(k)}: (k(), v())`);
      try {
        return new Function('k', 'v', `return { ${body.join(', ')} };`);
      } catch {
        return null;
      }
    }
    let p = 0;
    let q = 0;
    let at = 0;
    const keys = [];
    const define = [];
    const objects = [];
    // Per shape id: how often seen, its key names (from the first one), and a builder that
    // makes the whole object with one literal once the shape has repeated.
    const seen = [];
    const names = [];
    const builders = [];
    const skip = () => { p += 2; };
    function props(o, n, record) {
      for (let i = 0; i < n; i++) {
        const op = ops[p];
        let k;
        let d = false;
        if (op === 8) {
          k = keys[ops[p + 1]];
          d = define[ops[p + 1]];
        } else if (op === 9) {
          k = ops[p + 1];
        } else {
          k = text.slice(at, (at += ops[p + 1]));
          // Names the prototypes have (`__proto__`, accessors) are defined, never assigned.
          d = k in Array.prototype;
          keys.push(k);
          define.push(d);
        }
        if (record !== undefined) record.push(d || op === 9 ? null : k);
        p += 2;
        const v = value();
        if (d) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
        else o[k] = v;
      }
    }
    function value() {
      switch (ops[p++]) {
        case 0: return undefined;
        case 1: return null;
        case 2: return true;
        case 3: return false;
        case 4: return nums[q++];
        case 5: return text.slice(at, (at += ops[p++]));
        case 6: {
          const n = ops[p];
          const s = ops[p + 1];
          p += 2;
          if (s !== 0xffffffff) {
            const b = builders[s];
            if (b) {
              const slot = objects.length;
              objects.push(null);
              const o = b(skip, value);
              objects[slot] = o;
              return o;
            }
            const count = (seen[s] = (seen[s] ?? 0) + 1);
            if (count === 1) {
              const o = {};
              objects.push(o);
              const record = [];
              props(o, n, record);
              names[s] = record;
              return o;
            }
            if (count === 3 && b === undefined) builders[s] = shapeBuilder(names[s]);
          }
          const o = {};
          objects.push(o);
          props(o, n);
          return o;
        }
        case 10: {
          const length = ops[p];
          const named = ops[p + 1];
          p += 2;
          const a = new Array(length);
          objects.push(a);
          for (let i = 0; i < length; i++) {
            if (ops[p] === 11) p++;
            else a[i] = value();
          }
          props(a, named);
          return a;
        }
        case 12: {
          const length = ops[p];
          const count = ops[p + 1];
          p += 2;
          const a = [];
          objects.push(a);
          props(a, count);
          a.length = length;
          return a;
        }
        case 13: return objects[ops[p++]];
        case 14: {
          const d = new Date(nums[q++]);
          objects.push(d);
          return d;
        }
        default: throw new Error('Corrupt copy');
      }
    }
    return value();
  },
  // [value] of an own data property, or null (accessor, missing or proxy).
  ownData(obj, key) {
    if (types.isProxy(obj)) return null;
    const d = Object.getOwnPropertyDescriptor(obj, key);
    return d !== undefined && 'value' in d ? [d.value] : null;
  },
  // How V8 names a value in "... could not be cloned."
  describe(v) {
    if (typeof v === 'function') return Function.prototype.toString.call(v);
    if (typeof v === 'symbol') return v.toString();
    if (types.isProxy(v)) return '#<Object>';
    let name = 'Object';
    try {
      const proto = Object.getPrototypeOf(v);
      const ctor = proto && Object.getOwnPropertyDescriptor(proto, 'constructor');
      if (ctor && typeof ctor.value === 'function' && ctor.value.name) name = ctor.value.name;
      const tag = proto && proto[Symbol.toStringTag];
      if (typeof tag === 'string') name = tag;
    } catch {}
    return `#<${name}>`;
  },
  // A byte view of a SharedArrayBuffer (Node-API reads SharedArrayBuffer memory only through one).
  sabView(v) {
    return new Uint8Array(v);
  },
  entries(v) {
    return types.isMap(v) ? Array.from(Map.prototype.entries.call(v)).flat() : Array.from(Set.prototype.values.call(v));
  },
  // Reference property access on host values (SPEC §2.8): own properties only (the prototype
  // chain with `unsafeInherit`, flag 2); accessors only with `accessors` (flag 1); proxies
  // anywhere on the chain are refused; set defines a data property.
  getOwn(obj, key, flags) {
    hostObject(obj);
    let desc;
    for (let o = obj; o !== null && desc === undefined; o = flags & 2 ? Object.getPrototypeOf(o) : null) {
      desc = Object.getOwnPropertyDescriptor(o, key);
    }
    if (desc === undefined) return undefined;
    if (desc.get !== undefined || desc.set !== undefined) {
      if (!(flags & 1)) throw new TypeError('Property is getter');
      return desc.get === undefined ? undefined : desc.get.call(obj);
    }
    return desc.value;
  },
  setOwn(obj, key, value) {
    hostObject(obj);
    // A non-configurable property stays; defining over it then fails with "Set failed".
    Reflect.deleteProperty(obj, key);
    if (!Reflect.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })) {
      throw new TypeError('Set failed');
    }
    return true;
  },
  deleteOwn(obj, key) {
    hostObject(obj);
    if (!Reflect.deleteProperty(obj, key)) throw new TypeError('Delete failed');
    return true;
  },
  unbox(v) {
    if (types.isNumberObject(v)) return Number.prototype.valueOf.call(v);
    if (types.isStringObject(v)) return String.prototype.valueOf.call(v);
    if (types.isBooleanObject(v)) return Boolean.prototype.valueOf.call(v);
    return BigInt.prototype.valueOf.call(v);
  },
});

// Constructors called without `new` throw isolated-vm's TypeError instead of wrapping `this`.
// Instances are frozen, as in isolated-vm.
function requireNew(C, factory, required = 0) {
  const proxy = new Proxy(C, {
    apply() {
      throw new TypeError(`\`${C.name}\` must be called with \`new\``);
    },
    // `factory` (src/api/fast.rs) makes the object: an instance of the class itself, never with
    // the proxy as `new.target` (V8 would give every instance a map of its own, and every
    // property and the freeze would then make new maps: 4 µs per object), and without napi-rs's
    // construct path (its per-object bookkeeping, and a finalizer that may not run inside a
    // garbage collection). A subclass's instance gets the subclass's prototype. Every instance
    // is frozen, a subclass's too, as in isolated-vm.
    construct(target, args, newTarget) {
      if (args.length < required) throw new TypeError(`\`${C.name}\` requires at least ${required} parameter`);
      const object = factory(args[0], args[1]);
      if (newTarget !== proxy) {
        const { prototype } = newTarget;
        if (prototype !== null && (typeof prototype === 'object' || typeof prototype === 'function')) {
          Object.setPrototypeOf(object, prototype);
        }
      }
      return Object.freeze(object);
    },
  });
  // `X.prototype.constructor === X`, as in isolated-vm (the class itself stays unreachable).
  Object.defineProperty(C.prototype, 'constructor', { value: proxy, writable: true, configurable: true });
  return proxy;
}

// module.instantiate*(context, resolver): the resolver is a function of this heap, so the graph
// is walked here, calling it once per dependency of every module reached that is not linked
// yet (all of a module's specifiers at once when it returns promises); the answers go to the
// native side, which links the graph on the isolate (src/api/module.rs).
{
  const { Module, Context: ContextClass, __moduleToLink: toLink, __moduleInstantiate: link, __moduleHold: hold } = binding;
  const { __checkContext: checkContext } = binding;
  const check = (module, context, resolve, argc) => {
    if (!(module instanceof Module)) throw new TypeError('Illegal invocation');
    if (argc < 2) throw new TypeError('`undefined` requires at least 2 parameters');
    // isolated-vm's texts for a bad Context, from the native check (src/error.rs, CONTEXT_*).
    if (!(context instanceof ContextClass)) checkContext(context);
    if (typeof resolve !== 'function') throw new TypeError('`undefined` requires parameter 2 to be a function');
  };
  // The walk: `modules` lists every module reached once (the root first), `index` maps them to
  // their position; `links` holds, for each module resolved, its index and then the index of
  // the module each of its dependency specifiers resolved to, in their order.
  const walk = (root) => ({ modules: [root], index: new Map([[root, 0]]), links: [] });
  const record = (graph, dependency) => {
    if (!(dependency instanceof Module)) throw new TypeError('Resolved dependency was not `Module`');
    let to = graph.index.get(dependency);
    if (to === undefined) {
      to = graph.modules.push(dependency) - 1;
      graph.index.set(dependency, to);
    }
    graph.links.push(to);
  };
  const methods = {
    instantiateSync(context, resolve) {
      check(this, context, resolve, arguments.length);
      const graph = walk(this);
      for (let i = 0; i < graph.modules.length; i++) {
        const module = graph.modules[i];
        const specifiers = toLink(module);
        if (specifiers === null) continue;
        graph.links.push(i);
        for (const specifier of specifiers) record(graph, resolve(specifier, module));
      }
      return link(graph.modules, context, Uint32Array.from(graph.links), false);
    },
    instantiate(context, resolve) {
      check(this, context, resolve, arguments.length);
      // The module and the context are held from now on (a release while the resolver runs
      // does not make the call fail, as in isolated-vm).
      let held;
      try {
        held = hold(this, context);
      } catch (err) {
        return Promise.reject(err);
      }
      const graph = walk(this);
      return (async () => {
        for (let i = 0; i < graph.modules.length; i++) {
          const module = graph.modules[i];
          const specifiers = toLink(module);
          if (specifiers === null) continue;
          const answers = await Promise.all(specifiers.map((specifier) => resolve(specifier, module)));
          graph.links.push(i);
          for (const dependency of answers) record(graph, dependency);
        }
        return link(graph.modules, context, Uint32Array.from(graph.links), true, held);
      })();
    },
  };
  for (const name of ['instantiateSync', 'instantiate']) {
    Object.defineProperty(methods[name], 'length', { value: 2 });
    Object.defineProperty(Module.prototype, name, { value: methods[name], writable: true, enumerable: true, configurable: true });
  }
}

const Isolate = requireNew(binding.Isolate, natives.newIsolate);
// The argument count is checked first, with isolated-vm's text (`new Reference()`).
const Reference = requireNew(binding.Reference, natives.newReference, 1);
const ExternalCopy = requireNew(binding.ExternalCopy, natives.newExternalCopy, 1);
const Callback = requireNew(binding.Callback, natives.newCallback, 1);
const { Context, Script } = binding;

// isolated-vm APIs not built yet (README, "Not yet implemented"): declared, and failing with an
// Error that says so rather than "… is not a function"; the async one rejects.
const notYet = (what) => new Error(`${what} is not implemented yet in isolated-vm-rs`);
const planned = {
  createSnapshot() { throw notYet('`Isolate.createSnapshot`'); },
  createInspectorSession() { throw notYet('`isolate.createInspectorSession`'); },
  startCpuProfiler() { throw notYet('`isolate.startCpuProfiler`'); },
  stopCpuProfiler() { return Promise.reject(notYet('`isolate.stopCpuProfiler`')); },
};
Object.defineProperty(binding.Isolate, 'createSnapshot', { value: planned.createSnapshot, writable: true, configurable: true });
for (const name of ['createInspectorSession', 'startCpuProfiler', 'stopCpuProfiler']) {
  Object.defineProperty(binding.Isolate.prototype, name, { value: planned[name], writable: true, enumerable: true, configurable: true });
}

// Function.length as isolated-vm reports it (SPEC §1.1).
const lengths = new Map([[binding.Isolate, 1], [binding.Reference, 2], [binding.ExternalCopy, 2], [binding.Callback, 2],
  [binding.Context, 0], [binding.Script, 0], [binding.Module, 0], [binding.ExternalCopyInto, 0]]);
Object.defineProperty(binding.ExternalCopy, 'totalExternalSize', { get: binding.__totalExternalSize, enumerable: false });
for (const [C, length] of lengths) {
  Object.defineProperty(C, 'length', { value: length });
  Object.freeze(C.prototype);
  Object.freeze(C);
}

// NativeModule loads shared libraries compiled against Node's own V8 headers; their code cannot
// run inside isolates of a different V8 (SPEC §5), so it exists only to fail clearly.
function NativeModule(filename) {
  if (!new.target) throw new TypeError('`NativeModule` must be called with `new`');
  throw new Error(`NativeModule is not supported by isolated-vm-rs: ${String(filename)} would be built against Node's V8, not the isolates' own V8`);
}
Object.freeze(NativeModule.prototype);
Object.freeze(NativeModule);

// The classes are own properties (for ESM named imports) and, as in isolated-vm, also live on
// the export's own frozen prototype: `Object.getPrototypeOf(ivm).X = …` cannot reach
// Object.prototype.
const classes = { Isolate, Context, Script, Reference, ExternalCopy, Callback, NativeModule };
const ivm = Object.freeze(Object.create(
  Object.freeze(Object.assign(Object.create(Object.prototype), classes)),
  // Defined, not assigned: the frozen prototype's properties would refuse an assignment.
  Object.getOwnPropertyDescriptors(classes),
));

library = ivm;
binding.__setLibrary(ivm);

module.exports = ivm;
