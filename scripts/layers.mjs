#!/usr/bin/env node
// Architecture check: the crate's top-level modules (src/<module>/ or src/<module>.rs) must
// import each other without cycles.
//
// Reads every .rs file under src/ (comments, string literals and #[cfg(test)] items left out),
// collects the top-level module each `crate::` path names (in `use` statements, grouped
// `use crate::{a::…, b::…}` trees and inline paths), plus `super::` paths that climb to the crate
// root, and prints the edges between top-level modules. Fails (exit 1) when:
//   * the edges form a cycle (each cycle is printed with the files behind its edges);
//   * napi is used outside src/api, src/bridge and src/lib.rs (only they touch Node-API);
//   * src/isolate or src/transfer import a face (api, guest).
// Usage: node scripts/layers.mjs [project root]   (defaults to the repository of this script)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');

/** Where napi may be used: top-level modules, and crate-root files. */
const NAPI_MODULES = new Set(['api', 'bridge']);
const NAPI_ROOT_FILES = new Set(['lib.rs']);
/** Modules below the faces, and the faces they must not import. */
const BELOW_FACES = ['isolate', 'transfer'];
const FACES = ['api', 'guest'];

const files = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.rs')) files.push(p);
  }
};
walk(src);

const rel = (f) => path.relative(root, f).split(path.sep).join('/');
/** The module path of a file: src/a/b.rs -> [a, b], src/a/mod.rs -> [a], src/lib.rs -> []. */
const modulePath = (file) => {
  const parts = path.relative(src, file).split(path.sep);
  const last = parts.pop().replace(/\.rs$/, '');
  if (parts.length === 0 && (last === 'lib' || last === 'main')) return [];
  if (last !== 'mod') parts.push(last);
  return parts;
};
const topOf = (file) => modulePath(file)[0] ?? null; // null: the crate root (lib.rs)
const tops = new Set(files.map(topOf).filter((t) => t !== null));

/** The code with comments and the contents of string and char literals blanked out. */
const blank = (text) => {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      let depth = 0;
      do {
        if (text[i] === '/' && text[i + 1] === '*') { depth++; i += 2; }
        else if (text[i] === '*' && text[i + 1] === '/') { depth--; i += 2; }
        else { if (text[i] === '\n') out += '\n'; i++; }
      } while (i < n && depth > 0);
      out += ' ';
    } else if ((c === 'r' || (c === 'b' && next === 'r')) && /^b?r#*"/.test(text.slice(i, i + 260)) && !/\w/.test(text[i - 1] ?? '')) {
      const m = /^b?r(#*)"/.exec(text.slice(i));
      const close = `"${m[1]}`;
      const end = text.indexOf(close, i + m[0].length);
      const stop = end < 0 ? n : end + close.length;
      out += '""' + '\n'.repeat((text.slice(i, stop).match(/\n/g) || []).length);
      i = stop;
    } else if (c === '"') {
      let j = i + 1;
      let lines = 0;
      while (j < n && text[j] !== '"') {
        if (text[j] === '\\') j++;
        else if (text[j] === '\n') lines++;
        j++;
      }
      out += '""' + '\n'.repeat(lines);
      i = j + 1;
    } else if (c === "'") {
      // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
      if (next === '\\') {
        const end = text.indexOf("'", i + 3);
        out += "' '";
        i = end < 0 ? n : end + 1;
      } else if (text[i + 2] === "'" || (text.codePointAt(i + 1) > 0xffff && text[i + 3] === "'")) {
        out += "' '";
        i += text.codePointAt(i + 1) > 0xffff ? 4 : 3;
      } else {
        out += c;
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
};

/** Drops items marked #[cfg(test)] (a module or function body by brace matching, or up to `;`). */
const dropTests = (code) => {
  let out = '';
  let i = 0;
  for (;;) {
    const at = code.indexOf('#[cfg(test)]', i);
    if (at < 0) return out + code.slice(i);
    out += code.slice(i, at);
    const open = code.indexOf('{', at);
    const semi = code.indexOf(';', at);
    if (open < 0 || (semi >= 0 && semi < open)) { i = semi < 0 ? code.length : semi + 1; continue; }
    let depth = 0;
    let j = open;
    for (; j < code.length; j++) {
      if (code[j] === '{') depth++;
      else if (code[j] === '}' && --depth === 0) break;
    }
    i = j + 1;
  }
};

/** The top-level names of a use tree's group `{a::b, c, d::{e, f}}` (without the braces). */
const groupHeads = (group) => {
  const heads = [];
  let depth = 0;
  let start = 0;
  for (let k = 0; k <= group.length; k++) {
    const ch = group[k];
    if (ch === '{') depth++;
    else if (ch === '}') depth--;
    else if ((ch === ',' || k === group.length) && depth === 0) {
      const m = /^\s*(\w+)/.exec(group.slice(start, k));
      if (m) heads.push(m[1]);
      start = k + 1;
    }
  }
  return heads;
};

/** The top-level modules a file's code names, each with how often. */
const importsOf = (file, code) => {
  const found = [];
  for (const m of code.matchAll(/\bcrate\s*::\s*(\w+)/g)) found.push(m[1]);
  for (const m of code.matchAll(/\bcrate\s*::\s*\{/g)) {
    let depth = 0;
    let j = m.index + m[0].length - 1;
    const start = j + 1;
    for (; j < code.length; j++) {
      if (code[j] === '{') depth++;
      else if (code[j] === '}' && --depth === 0) break;
    }
    found.push(...groupHeads(code.slice(start, j)));
  }
  // `super::super::x` climbing to the crate root from a nested file.
  const own = modulePath(file);
  for (const m of code.matchAll(/\b((?:super\s*::\s*)+)(\w+)/g)) {
    const ups = (m[1].match(/super/g) || []).length;
    if (ups === own.length) found.push(m[2]);
  }
  return found;
};

const edges = new Map(); // "a->b" -> Set(files)
const napiOutside = [];
for (const f of files) {
  const from = topOf(f);
  const code = dropTests(blank(fs.readFileSync(f, 'utf8')));
  for (const to of importsOf(f, code)) {
    if (from === null || to === from || !tops.has(to)) continue;
    const k = `${from}->${to}`;
    if (!edges.has(k)) edges.set(k, new Set());
    edges.get(k).add(rel(f));
  }
  const usesNapi = /\bnapi(?:_sys|_derive)?\s*::|#\s*\[\s*napi\b|\bextern\s+crate\s+napi/.test(code);
  const allowed = from === null ? NAPI_ROOT_FILES.has(path.basename(f)) : NAPI_MODULES.has(from);
  if (usesNapi && !allowed) napiOutside.push(rel(f));
}

const graph = new Map([...tops].map((t) => [t, new Set()]));
for (const k of edges.keys()) {
  const [a, b] = k.split('->');
  graph.get(a).add(b);
}

// Strongly connected components (Tarjan); each one with more than one module holds a cycle.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const sccs = [];
const strong = (v) => {
  index.set(v, counter);
  low.set(v, counter);
  counter++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v)) {
    if (!index.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const c = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1) sccs.push(c.sort());
  }
};
for (const v of [...tops].sort()) if (!index.has(v)) strong(v);

/** One concrete cycle through `start` inside component `members` (breadth-first, shortest). */
const cycleThrough = (start, members) => {
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of [...graph.get(v)].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const pathBack = [v];
        for (let u = prev.get(v); u !== null; u = prev.get(u)) pathBack.push(u);
        return [...pathBack.reverse(), start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
};

const show = (k) => {
  const fs_ = [...edges.get(k)];
  return `${fs_.length} file${fs_.length === 1 ? '' : 's'}: ${fs_.slice(0, 3).join(', ')}${fs_.length > 3 ? ', …' : ''}`;
};

console.log('Imports between top-level modules of src/:');
for (const k of [...edges.keys()].sort()) console.log(`  ${k.replace('->', ' -> ')}  (${show(k)})`);

const problems = [];
for (const c of sccs) {
  const cycle = cycleThrough(c[0], new Set(c));
  const steps = cycle.slice(1).map((b, i) => `    ${cycle[i]} -> ${b}: ${[...edges.get(`${cycle[i]}->${b}`)].join(', ')}`);
  problems.push(`CYCLE among ${c.join(', ')}: ${cycle.join(' -> ')}\n${steps.join('\n')}`);
}
for (const f of napiOutside) problems.push(`napi used outside src/api and src/bridge: ${f}`);
for (const low_ of BELOW_FACES) {
  for (const face of FACES) {
    const k = `${low_}->${face}`;
    if (edges.has(k)) problems.push(`${low_} imports the ${face} face: ${[...edges.get(k)].join(', ')}`);
  }
}

if (sccs.length === 0) {
  // Top to bottom: a module comes before everything it imports.
  const order = [];
  const seen = new Set();
  const visit = (v) => {
    if (seen.has(v)) return;
    seen.add(v);
    for (const w of [...graph.get(v)].sort()) visit(w);
    order.push(v);
  };
  for (const v of [...tops].sort()) visit(v);
  console.log(`Top to bottom (each module imports only modules after it): ${order.reverse().join(' > ')}`);
}
for (const p of problems) console.error(p);
console.log(
  `layers: ${sccs.length} cycle${sccs.length === 1 ? '' : 's'}, ${edges.size} edges, ` +
    `${problems.length} problem${problems.length === 1 ? '' : 's'}`,
);
process.exitCode = problems.length ? 1 : 0;
