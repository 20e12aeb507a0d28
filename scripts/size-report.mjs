#!/usr/bin/env node
// What the addon binary is made of: its sections (`size -A`) and, from the symbols of an
// unstripped build (`nm`), how much of the code and read-only data is V8, ICU, Rust's standard
// library, napi-rs, the Temporal crates V8 uses, mimalloc and this crate. GNU binutils (`size`,
// `nm`) must be on PATH. The numbers are in bench/SIZE.md.
//
//   CARGO_PROFILE_RELEASE_STRIP=none CARGO_TARGET_DIR=/tmp/unstripped cargo build --release
//   node scripts/size-report.mjs isolated-vm-rs.linux-x64-gnu.node /tmp/unstripped/release/libisolated_vm_rs.so
//
// The first file is the binary as shipped (sections only); the optional second one, an
// unstripped build of the same source, is split by symbol. Symbols without a size (ICU's data
// blob, V8's embedded built-ins, written in assembly) get the distance to the next symbol.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

const [shipped, unstripped] = process.argv.slice(2);
if (!shipped) {
  console.error('usage: node scripts/size-report.mjs shipped.node [unstripped.so]');
  process.exit(2);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error ?? r.stderr}`);
  return r.stdout;
}

const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;

function sections(file) {
  const out = new Map();
  for (const line of run('size', ['-A', file]).split('\n')) {
    const m = /^(\.?[\w.]+)\s+(\d+)\s+(\d+)/.exec(line);
    if (m) out.set(m[1], { size: Number(m[2]), addr: Number(m[3]) });
  }
  return out;
}

const secs = sections(shipped);
const groups = [
  ['.text', 'machine code'],
  ['.rodata', 'read-only data (ICU data, V8 snapshot, tables)'],
  ['.eh_frame .eh_frame_hdr .gcc_except_table', 'unwind tables (Rust panics, stack walks)'],
  ['.rela.dyn .rela.plt', 'relocations (applied at load)'],
  ['.data.rel.ro .data .got .got.plt', 'writable data (vtables, globals)'],
];
console.log(`## ${shipped}: ${mb(statSync(shipped).size)} on disk\n`);
console.log('| sections | what | size |\n|---|---|--:|');
let counted = 0;
for (const [names, what] of groups) {
  const size = names.split(' ').reduce((s, n) => s + (secs.get(n)?.size ?? 0), 0);
  counted += size;
  console.log(`| ${names.split(' ').map((n) => `\`${n}\``).join(' ')} | ${what} | ${mb(size)} |`);
}
const fileSize = statSync(shipped).size;
console.log(`| everything else | symbol tables, headers, padding | ${mb(fileSize - counted)} |`);
console.log(`| \`.bss\` | zeroed at load, not in the file | ${mb(secs.get('.bss')?.size ?? 0)} |`);

if (unstripped) {
  const raw = run('nm', ['-n', '-S', unstripped]).split('\n');
  const demangled = run('nm', ['-n', '-S', '-C', unstripped]).split('\n');
  const us = sections(unstripped);
  const loaded = ['.text', '.rodata', '.data.rel.ro', '.data'].map((n) => [n, us.get(n)]).filter(([, s]) => s);
  const sectionOf = (a) => loaded.find(([, s]) => a >= s.addr && a < s.addr + s.size);
  const syms = [];
  for (let i = 0; i < raw.length; i++) {
    const m = /^([0-9a-f]+) (?:([0-9a-f]+) )?([a-zA-Z]) (.*)$/.exec(raw[i]);
    const d = /^[0-9a-f]+ (?:[0-9a-f]+ )?[a-zA-Z] (.*)$/.exec(demangled[i] ?? '');
    if (!m || !d) continue;
    const addr = parseInt(m[1], 16);
    const sec = sectionOf(addr);
    if (!sec) continue;
    syms.push({ addr, size: m[2] ? parseInt(m[2], 16) : 0, mangled: m[4], name: d[1], sec });
  }
  // Sizeless symbols: up to the next symbol of the same section.
  for (let i = 0; i < syms.length; i++) {
    const s = syms[i];
    if (s.size) continue;
    const next = syms.slice(i + 1).find((t) => t.addr > s.addr);
    const end = s.sec[1].addr + s.sec[1].size;
    s.size = Math.min(next && next.sec === s.sec ? next.addr : end, end) - s.addr;
  }
  const rust = (s) => /17h[0-9a-f]{16}E$/.test(s.mangled) || s.mangled.startsWith('_R');
  const rules = [
    ['ICU data (`icudt*_dat`)', (s) => /^icudt\d+_dat$/.test(s.name)],
    ['V8 built-ins (embedded blob)', (s) => /^v8_Default_embedded_blob_(code|data)_$|^Builtins_/.test(s.name)],
    ['V8 startup snapshot', (s) => s.name === 'v8::internal::blob_data'],
    ['this crate (isolated_vm_rs)', (s) => rust(s) && s.name.includes('isolated_vm_rs::')],
    ['napi-rs', (s) => rust(s) && /^(<)?napi(_derive)?::/.test(s.name)],
    ['Temporal (temporal_rs, ICU4X crates, diplomat)', (s) => rust(s) && /(^|<)(temporal_rs|temporal_capi|icu_\w+|diplomat\w*|zerovec|tinystr|writeable|ixdtf|calendrical_calculations|timezone_provider|zoneinfo64|resb|potential_utf|yoke|zerofrom)::/.test(s.name)],
    ['Rust std, core, alloc', (s) => rust(s) && /^(<)?(std|core|alloc|hashbrown|std_detect|rustc_demangle|gimli|addr2line|miniz_oxide|object|memchr)::/.test(s.name)],
    ['v8 crate bindings (Rust)', (s) => rust(s) && /^(<)?v8::/.test(s.name)],
    ['other Rust crates', (s) => rust(s)],
    ['mimalloc', (s) => /^_?mi_|^_mi_|^mi_/.test(s.name)],
    ['ICU code', (s) => /icu_\d+::|_\d\d$|_\d\d\(/.test(s.name) && !s.name.startsWith('v8')],
    ['V8 and its C++ libraries (libc++, abseil, simdutf, zlib, …)', () => true],
  ];
  const totals = new Map(rules.map(([name]) => [name, new Map()]));
  for (const s of syms) {
    const [name] = rules.find(([, test]) => test(s));
    const t = totals.get(name);
    t.set(s.sec[0], (t.get(s.sec[0]) ?? 0) + s.size);
  }
  const cols = loaded.map(([n]) => n);
  console.log(`\n## by origin (symbols of ${unstripped})\n`);
  console.log(`| origin | ${cols.map((c) => `\`${c}\``).join(' | ')} | total |\n|---|${cols.map(() => '--:|').join('')}--:|`);
  const attributed = new Map(cols.map((c) => [c, 0]));
  for (const [name, t] of totals) {
    let total = 0;
    for (const c of cols) {
      total += t.get(c) ?? 0;
      attributed.set(c, attributed.get(c) + (t.get(c) ?? 0));
    }
    if (total) console.log(`| ${name} | ${cols.map((c) => mb(t.get(c) ?? 0)).join(' | ')} | ${mb(total)} |`);
  }
  const rest = cols.map((c) => us.get(c).size - attributed.get(c));
  console.log(`| no symbol (padding, literals) | ${rest.map(mb).join(' | ')} | ${mb(rest.reduce((a, b) => a + b, 0))} |`);
}
