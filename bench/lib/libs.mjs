// Loads the two implementations under test.
//   ours:   the isolated-vm-rs package root (two levels up from this file),
//           loaded exactly like a user would: require('<package root>').
//   theirs: isolated-vm from bench/node_modules.
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT_DIR = path.resolve(BENCH_DIR, '..');
export const CASES_DIR = path.join(BENCH_DIR, 'cases');
export const LIB_NAMES = ['ours', 'theirs'];

const benchRequire = createRequire(path.join(BENCH_DIR, 'package.json'));

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

export function libVersion(name) {
  if (name === 'ours') return readJson(path.join(ROOT_DIR, 'package.json'))?.version ?? null;
  return readJson(path.join(BENCH_DIR, 'node_modules', 'isolated-vm', 'package.json'))?.version ?? null;
}

export function libLabel(name) {
  return name === 'ours' ? 'isolated-vm-rs' : 'isolated-vm';
}

// Returns { ok: true, ivm, version } or { ok: false, error }.
export function loadLib(name) {
  try {
    const ivm = name === 'ours' ? benchRequire(ROOT_DIR) : benchRequire('isolated-vm');
    if (typeof ivm?.Isolate !== 'function') {
      throw new Error(`module loaded but does not export an Isolate class (exports: ${Object.keys(ivm ?? {}).join(', ') || 'none'})`);
    }
    return { ok: true, ivm, version: libVersion(name) };
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err).split('\n')[0] };
  }
}

// All case modules in bench/cases, in file-name order. `filter` is an
// optional list of case names / file-name substrings.
export async function loadCases(filter = []) {
  const files = readdirSync(CASES_DIR).filter((f) => f.endsWith('.mjs')).sort();
  const cases = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(CASES_DIR, file)).href)).default;
    if (!mod?.name || !mod?.kind) throw new Error(`bench/cases/${file}: default export needs name and kind`);
    const c = { ...mod, file };
    if (filter.length && !filter.some((f) => c.name === f || file.includes(f))) continue;
    cases.push(c);
  }
  return cases;
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// Summary of per-op times (µs), one sample per timed batch.
export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return {
    median: median(s),
    p95: percentile(s, 95),
    min: s[0],
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    batches: s.length,
  };
}
