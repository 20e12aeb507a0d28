#!/usr/bin/env node
// Release checks (README "Releasing").
//
//   node scripts/release.mjs check            `prepublishOnly`, before `napi prepublish`: fails
//                                             loudly unless the packages can be published (below)
//   node scripts/release.mjs check --packing  `prepack`: the same, and package.json must name
//                                             every platform package as an optional dependency
//                                             of this version (which `napi prepublish` adds)
//   node scripts/release.mjs restore          `postpublish`: takes those optionalDependencies out
//                                             of package.json again
//
// The optionalDependencies on the platform packages are written into package.json by
// `napi prepublish` for the publish only, the napi-rs way: committed, they would make `npm ci`
// refuse the lockfile whenever that version of the platform package is not on the registry yet
// (before every release). `npm pack` alone therefore fails: a tarball without them installs no
// binary.
//
// `check` requires: every file of package.json "files" (binding.js included); one platform
// package per napi target under npm/, with this version; its binary present
// (`npm run build:release && npm run artifacts`); and that binary's glibc floor equal to the one
// binding.js states, with no unversioned glibc import (a binary linked against a newer glibc
// than the README promises is never published).
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { glibcFloor, unversionedImports } from './glibc-floor.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const pkgFile = path.join(root, 'package.json');
const pkg = readJson(pkgFile);

function platformPackages() {
  const npmDir = path.join(root, 'npm');
  return readdirSync(npmDir)
    .filter((d) => existsSync(path.join(npmDir, d, 'package.json')))
    .map((d) => ({ dir: path.join('npm', d), json: readJson(path.join(npmDir, d, 'package.json')) }));
}

function check(packing) {
  const problems = [];
  for (const file of pkg.files) {
    if (!existsSync(path.join(root, file))) problems.push(`${file} is missing (listed in package.json "files")`);
  }
  const platforms = platformPackages();
  const targets = pkg.napi?.targets ?? [];
  if (platforms.length !== targets.length) {
    problems.push(`npm/ holds ${platforms.length} platform packages for ${targets.length} napi targets`);
  }
  const floor = /const GLIBC_NEEDED = '([\d.]+)'/.exec(readFileSync(path.join(root, 'binding.js'), 'utf8'))?.[1];
  for (const { dir, json } of platforms) {
    if (json.version !== pkg.version) problems.push(`${dir}/package.json has version ${json.version}, not ${pkg.version}`);
    const dep = pkg.optionalDependencies?.[json.name];
    if (packing ? dep !== pkg.version : dep !== undefined && dep !== pkg.version) {
      problems.push(
        `optionalDependencies["${json.name}"] is ${dep ?? 'missing'}, not ${pkg.version}` +
          (dep === undefined ? ': publish with `npm publish`, whose prepublishOnly (napi prepublish) adds it' : ''),
      );
    }
    const binary = path.join(root, dir, json.main);
    if (!existsSync(binary) || statSync(binary).size < 1e6) {
      problems.push(`${dir}/${json.main} is missing: run \`npm run build:release\` and then \`npm run artifacts\``);
    } else if (json.libc?.includes('glibc')) {
      const needs = glibcFloor(binary);
      const loose = unversionedImports(binary);
      if (loose.length) {
        problems.push(`${dir}/${json.main} imports ${loose.join(', ')} without a symbol version (the glibc it was linked against lacks them): it may fail to load on an older glibc`);
      } else if (needs !== floor) {
        problems.push(
          `${dir}/${json.main} needs glibc ${needs}, but binding.js and the README promise ${floor}: ` +
            'build it with `npm run build:release` (not `npm run build`), then `npm run artifacts`',
        );
      }
    }
  }
  if (problems.length) {
    console.error(`release check: ${pkg.name}@${pkg.version} cannot be published:\n  - ${problems.join('\n  - ')}`);
    process.exit(1);
  }
  console.error(`release check: ${pkg.name}@${pkg.version} and ${platforms.map((p) => p.json.name).join(', ')} are complete`);
}

// package.json as committed: without the optionalDependencies napi prepublish added.
function restore() {
  if (!pkg.optionalDependencies) return;
  for (const { json } of platformPackages()) delete pkg.optionalDependencies[json.name];
  if (Object.keys(pkg.optionalDependencies).length === 0) delete pkg.optionalDependencies;
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
}

const [command, flag] = process.argv.slice(2);
if (command === 'check') check(flag === '--packing');
else if (command === 'restore') restore();
else {
  console.error('usage: node scripts/release.mjs check [--packing] | restore');
  process.exit(2);
}
