// Type-checks the public typings (index.d.ts) by compiling the example programs in
// __test__/types with the project's own TypeScript (devDependency), once per tsconfig there:
// tsconfig.json (module nodenext, resolved through package.json "exports"),
// tsconfig.commonjs.json (module commonjs + esModuleInterop) and tsconfig.bundler.json.
// The examples contain `// @ts-expect-error` lines, so the typings must reject misuse too.
// Does not need the native addon.
//
//   node --test __test__/typings.test.mjs

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const typesDir = join(root, '__test__', 'types');
const projects = readdirSync(typesDir)
	.filter((name) => /^tsconfig(\..+)?\.json$/.test(name))
	.sort();

test('typings: test projects exist', () => {
	assert.ok(existsSync(tsc), `TypeScript compiler not found at ${tsc}; run \`npm install\``);
	assert.ok(projects.includes('tsconfig.json'), 'expected __test__/types/tsconfig.json');
});

for (const project of projects) {
	test(`typings: tsc --noEmit -p __test__/types/${project}`, () => {
		const result = spawnSync(
			process.execPath,
			[tsc, '--noEmit', '--pretty', 'false', '-p', join('__test__', 'types', project)],
			{ cwd: root, encoding: 'utf8', timeout: 120_000 },
		);
		assert.equal(result.error, undefined, `could not run tsc: ${result.error}`);
		const diagnostics = `${result.stdout}${result.stderr}`.trim();
		assert.equal(
			result.status,
			0,
			`tsc exited with ${result.status ?? result.signal} for ${project}:\n${diagnostics}`,
		);
	});
}
