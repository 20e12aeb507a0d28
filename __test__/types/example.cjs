// @ts-check
// Compile-only check of index.d.ts from plain CommonJS JavaScript: `const ivm = require(...)` is
// typed through `checkJs`. Run by __test__/typings.test.mjs; nothing here is executed.
'use strict';

const ivm = require('isolated-vm-rs');
const { Isolate, Reference } = require('isolated-vm-rs');

async function main() {
	const isolate = new ivm.Isolate({ memoryLimit: 8, onCatastrophicError: (message) => void message });
	/** @type {bigint} */
	const cpuTime = isolate.cpuTime;
	const context = await isolate.createContext();
	await context.global.set('global', context.global.derefInto());
	/** @type {import('isolated-vm-rs').Reference} */
	const ref = await context.evalClosure('return {}', [], { result: { reference: true } });
	const script = isolate.compileScriptSync('1 + 1', { filename: 'file:///cjs.js' });
	const two = script.runSync(context, { timeout: 10, copy: true });
	// @ts-expect-error memoryLimit is a number of megabytes
	new Isolate({ memoryLimit: '8' });
	// @ts-expect-error run needs the context to run in
	script.runSync();
	ref.release();
	context.release();
	isolate.dispose();
	return [cpuTime, two, new Reference(1)];
}

module.exports = main;
