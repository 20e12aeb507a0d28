// Compile-only check of index.d.ts (CommonJS style: `import ivm = require(...)`).
// Run by __test__/typings.test.mjs with `tsc --noEmit -p __test__/types` (and the other
// tsconfig.*.json here). Nothing in this file is executed.
//
// Every `// @ts-expect-error` line is a misuse the typings must reject: if the typings stop
// rejecting it, tsc reports "Unused '@ts-expect-error' directive" and the test fails.

import ivm = require('isolated-vm-rs');

export async function example(): Promise<void> {
	const messages: string[] = [];

	// --- Isolate ---------------------------------------------------------------------------------
	const isolate = new ivm.Isolate({
		memoryLimit: 32,
		inspector: false,
		onCatastrophicError: (message: string) => {
			messages.push(message);
		},
	});
	new ivm.Isolate();
	new ivm.Isolate({});

	// @ts-expect-error memoryLimit is a number of megabytes, not a string
	new ivm.Isolate({ memoryLimit: '128' });
	// @ts-expect-error onCatastrophicError receives a string message
	new ivm.Isolate({ onCatastrophicError: (message: number) => void message });

	const disposed: boolean = isolate.isDisposed;
	const referenceCount: number = isolate.referenceCount;
	const cpuTime: bigint = isolate.cpuTime;
	const wallTime: bigint = isolate.wallTime;
	const cpuMs: number = Number(isolate.cpuTime - cpuTime) / 1e6;
	// @ts-expect-error cpuTime is a bigint (nanoseconds), not a number
	const cpuNumber: number = isolate.cpuTime;
	// @ts-expect-error cpuTime is read-only
	isolate.cpuTime = 0n;

	const heap: ivm.HeapStatistics = await isolate.getHeapStatistics();
	const heapSync = isolate.getHeapStatisticsSync();
	const heapUsed: number = heap.used_heap_size + heapSync.externally_allocated_size;
	const heapLimit: number = heapSync.heap_size_limit;

	// --- Context ---------------------------------------------------------------------------------
	const context: ivm.Context = await isolate.createContext();
	const contextSync: ivm.Context = isolate.createContextSync({ inspector: false });
	// @ts-expect-error Context has a private constructor: contexts come from createContext()
	new ivm.Context();

	// --- context.global (Reference to the global object) ----------------------------------------
	const jail: ivm.Reference<Record<number | string | symbol, any>> = context.global;
	await jail.set('global', jail.derefInto());
	jail.setSync('answer', 42);
	jail.setIgnored('name', 'jail');
	await jail.set('config', { nested: { deep: true } }, { copy: true });
	jail.setSync('log', (...args: unknown[]) => {
		messages.push(args.join(' '));
	});
	const kind: string = jail.typeof;
	const answer = await jail.get('answer');
	const config = jail.getSync('config', { copy: true });
	const configRef: ivm.Reference = jail.getSync('config', { reference: true });
	const configExternal: ivm.ExternalCopy = await jail.get('config', { externalCopy: true });
	const accessor = jail.getSync('getter', { accessors: true, copy: true });
	await jail.delete('answer');
	jail.deleteSync('name');
	jail.deleteIgnored('config');
	const globalCopy: Record<number | string | symbol, any> = await jail.copy();
	const globalCopySync = jail.copySync();
	// @ts-expect-error only one of copy / externalCopy / reference may be set
	jail.getSync('config', { copy: true, reference: true });
	// @ts-expect-error getSync with { reference: true } returns a Reference, not a string
	const notAString: string = jail.getSync('config', { reference: true });

	// --- eval / evalSync / evalIgnored ----------------------------------------------------------
	const evaluated: ivm.Transferable = await context.eval('1 + 1');
	const withOrigin = await context.eval('1 + 1', {
		timeout: 100,
		filename: 'file:///eval.js',
		lineOffset: 10,
		columnOffset: 2,
	});
	const copied = context.evalSync('({ a: 1 })', { copy: true });
	const reference: ivm.Reference = context.evalSync('globalThis', { reference: true });
	const external: ivm.ExternalCopy = context.evalSync('[1, 2, 3]', { externalCopy: true });
	const promised: Promise<unknown> = context.evalSync('Promise.resolve(1)', {
		promise: true,
		copy: true,
	});
	context.evalIgnored('globalThis.counter = 0', { timeout: 10 });
	// With no transfer option the result is whatever the script left, if transferable: typed `any`
	// by the conditional types (as in isolated-vm), so it may be narrowed by assignment.
	const evalString: string = await context.eval('"text"');
	// @ts-expect-error timeout is a number of milliseconds
	context.evalSync('1', { timeout: '10' });
	// @ts-expect-error only one of copy / externalCopy / reference may be set
	context.evalSync('1', { copy: true, externalCopy: true });

	// --- evalClosure* with arguments / result transfer options ---------------------------------
	const sum = await context.evalClosure('return $0 + $1', [1, 2], {
		arguments: { copy: true },
		result: { copy: true },
		timeout: 100,
	});
	const picked = context.evalClosureSync('return $0.a', [{ a: 1 }], {
		arguments: { copy: true },
		result: { copy: true },
		filename: 'file:///closure.js',
	});
	context.evalClosureIgnored('log($0)', ['hello']);
	const fnRef: ivm.Reference = context.evalClosureSync(
		'return (a, b) => a + b',
		[],
		{ result: { reference: true } },
	);
	const resultPromise: Promise<unknown> = context.evalClosureSync('return Promise.resolve($0)', [1], {
		result: { promise: true, copy: true },
	});
	// @ts-expect-error the result transfer options allow only one of copy / externalCopy / reference
	context.evalClosureSync('return 1', [], { result: { copy: true, reference: true } });
	// @ts-expect-error arguments are passed as an array, not a single value
	context.evalClosureSync('return $0', 1);

	// --- Reference.apply* ----------------------------------------------------------------------
	const applied = await fnRef.apply(undefined, [1, 2], { result: { copy: true }, timeout: 50 });
	const appliedSync = fnRef.applySync(null, [1, 2], { arguments: { copy: true }, result: { copy: true } });
	fnRef.applyIgnored(undefined, []);
	const typedRef = new ivm.Reference((a: number, b: number): number => a + b);
	const typedSum: number = typedRef.applySync(undefined, [1, 2], { result: { copy: true } });
	// @ts-expect-error the referenced function takes numbers
	typedRef.applySync(undefined, ['1', 2], { arguments: { copy: true } });

	// --- Scripts ---------------------------------------------------------------------------------
	const script = await isolate.compileScript('globalThis.counter + 1', {
		filename: 'file:///script.js',
		lineOffset: 0,
		columnOffset: 0,
	});
	const scriptSync = isolate.compileScriptSync('1', { filename: 'file:///sync.js', produceCachedData: true });
	const cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined = scriptSync.cachedData;
	const withCache = isolate.compileScriptSync('1', { cachedData });
	const rejected: boolean | undefined = withCache.cachedDataRejected;
	const ran = await script.run(context, { timeout: 100, release: false, copy: true });
	const ranSync = script.runSync(context, { timeout: 100 });
	const ranRef: ivm.Reference = script.runSync(context, { reference: true });
	script.runIgnored(contextSync, { release: true });
	script.release();
	// @ts-expect-error run needs the context to run in
	script.run();
	// @ts-expect-error runSync needs a Context, not an Isolate
	script.runSync(isolate);
	// @ts-expect-error release is a boolean
	script.runSync(context, { release: 'yes' });
	// @ts-expect-error Script has a private constructor: scripts come from compileScript()
	new ivm.Script();

	// --- Modules -------------------------------------------------------------------------------
	const module = await isolate.compileModule('import x from "dep"; export default x;', {
		filename: 'file:///main.mjs',
	});
	const dependency = isolate.compileModuleSync('export default 1;');
	const specifiers: string[] = module.dependencySpecifiers;
	await module.instantiate(context, async (specifier: string, referrer: ivm.Module) => dependency);
	module.instantiateSync(context, () => dependency);
	await module.evaluate({ timeout: 100 });
	module.evaluateSync();
	const namespace: ivm.Reference = module.namespace;
	module.release();

	// --- ExternalCopy, Callback, NativeModule, lib ---------------------------------------------
	const copy = new ivm.ExternalCopy({ list: [1, 2, 3] });
	const copyBack: { list: number[] } = copy.copy();
	await jail.set('data', copy.copyInto({ release: true }));
	const buffer = new ivm.ExternalCopy(new ArrayBuffer(8), { transferOut: true });
	const bufferBack: ArrayBuffer = buffer.copy({ transferIn: true });
	const totalExternalSize: number = ivm.ExternalCopy.totalExternalSize;
	copy.release();

	const callback = new ivm.Callback((a: number) => a * 2, { sync: true });
	new ivm.Callback(async () => 1, { async: true });
	new ivm.Callback(() => undefined, { ignored: true });
	await jail.set('double', callback);
	// @ts-expect-error only one of async / sync / ignored may be set
	new ivm.Callback(() => 1, { async: true, sync: true });

	const nativeModule = new ivm.NativeModule('/path/to/addon.node');
	const nativeExports: ivm.Reference = nativeModule.createSync(context);
	const nativeExportsAsync: ivm.Reference = await nativeModule.create(context);

	const start: [number, number] = ivm.lib.hrtime();
	const elapsed: [number, number] = ivm.lib.hrtime(start);
	await jail.set('ivm', ivm);
	await jail.set('lib', ivm.lib);

	// --- Profiler and inspector ----------------------------------------------------------------
	isolate.startCpuProfiler('profile');
	const profiles: ivm.ThreadCpuProfile[] = await isolate.stopCpuProfiler('profile');
	for (const { threadId, profile } of profiles) {
		for (const node of profile.nodes) {
			const line: number = node.callFrame.lineNumber;
			const reason: string | undefined = node.bailoutReason;
			messages.push(`${threadId} ${node.callFrame.functionName}:${line} ${reason ?? ''}`);
		}
	}
	const session = isolate.createInspectorSession();
	session.onResponse = (callId: number, message: string) => void messages.push(`${callId} ${message}`);
	session.onNotification = (message: string) => void messages.push(message);
	session.dispatchProtocolMessage('{"id":1,"method":"Runtime.enable"}');
	session.dispose();

	// --- Release and dispose -------------------------------------------------------------------
	context.release();
	contextSync.release();
	isolate.dispose();

	void [
		disposed, referenceCount, wallTime, cpuMs, cpuNumber, heapUsed, heapLimit, kind, answer,
		config, configRef, configExternal, accessor, globalCopy, globalCopySync, notAString,
		evaluated, withOrigin, copied, reference, external, promised, evalString, sum, picked,
		resultPromise, applied, appliedSync, typedSum, rejected, ran, ranSync, ranRef, specifiers,
		namespace, copyBack, bufferBack, totalExternalSize, nativeExports, nativeExportsAsync,
		elapsed,
	];
}
