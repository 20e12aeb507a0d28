// Compile-only check of index.d.ts from an ES module: named imports and the default import (the
// package's ESM entry re-exports the CommonJS `ivm` object as default and its members by name).
// Run by __test__/typings.test.mjs; nothing here is executed (no top-level await, so the file
// also compiles under `module: commonjs`).

import ivm from 'isolated-vm-rs';
import { Callback, Context, ExternalCopy, Isolate, Reference, Script, lib } from 'isolated-vm-rs';
import type { HeapStatistics, IsolateOptions, Transferable } from 'isolated-vm-rs';
// @ts-expect-error not a member of the package
import { Session } from 'isolated-vm-rs';

export async function exampleEsm(): Promise<unknown[]> {
	const options: IsolateOptions = {
		memoryLimit: 16,
		inspector: false,
		onCatastrophicError: (message) => {
			throw new Error(message);
		},
	};
	const isolate: ivm.Isolate = new Isolate(options);
	// The default import and the named imports are the same classes.
	const sameClass: typeof ivm.Isolate = Isolate;

	const cpuTime: bigint = isolate.cpuTime;
	const wallTime: bigint = isolate.wallTime;
	const disposed: boolean = isolate.isDisposed;
	const referenceCount: number = isolate.referenceCount;
	const heap: HeapStatistics = await isolate.getHeapStatistics();
	const heapSync: HeapStatistics = isolate.getHeapStatisticsSync();

	const context: Context = await isolate.createContext();
	const contextSync: Context = isolate.createContextSync();

	const jail = context.global;
	await jail.set('global', jail.derefInto());
	jail.setSync('seed', 1);
	const seedType: string = jail.typeof;
	const seed = await jail.get('seed', { copy: true });
	jail.deleteSync('seed');
	const globalCopy = await jail.copy();

	const evaluated = await context.eval('1 + 1', { timeout: 50, filename: 'file:///esm.js' });
	const evaluatedSync = context.evalSync('({ a: 1 })', { copy: true });
	context.evalIgnored('globalThis.x = 1');
	const closure = await context.evalClosure('return $0 * 2', [21], {
		arguments: { copy: true },
		result: { copy: true },
	});
	const closureRef: Reference = context.evalClosureSync('return {}', [], { result: { reference: true } });
	context.evalClosureIgnored('globalThis.y = $0', [2]);

	const script: Script = await isolate.compileScript('x + 1', {
		filename: 'file:///esm-script.js',
		lineOffset: 1,
		columnOffset: 4,
	});
	const scriptSync: Script = isolate.compileScriptSync('x + 2');
	const ran = await script.run(context, { timeout: 100, release: true, copy: true });
	const ranSync = scriptSync.runSync(contextSync, { timeout: 100, copy: true });
	scriptSync.runIgnored(contextSync);
	scriptSync.release();

	const external = new ExternalCopy(new Uint8Array([1, 2, 3]));
	await jail.set('bytes', external.copyInto());
	await jail.set('callback', new Callback((n: number) => n + 1));
	await jail.set('ivm', ivm);
	const hr: [number, number] = lib.hrtime();
	const transferable: Transferable = lib;

	// @ts-expect-error memoryLimit is a number of megabytes
	new Isolate({ memoryLimit: '8' });
	// @ts-expect-error run needs the context to run in
	await script.run();
	// @ts-expect-error Context has a private constructor
	new Context();

	context.release();
	contextSync.release();
	isolate.dispose();

	return [
		sameClass, cpuTime, wallTime, disposed, referenceCount, heap, heapSync, seedType, seed,
		globalCopy, evaluated, evaluatedSync, closure, closureRef, ran, ranSync, hr, transferable,
		Session,
	];
}
