// The oldest glibc a Linux shared object loads on: the newest GLIBC_x.y version among its ELF
// version needs (.gnu.version_r, what `objdump -p` prints under "Version References"), leaving
// out weak ones, which the dynamic loader does not insist on. That holds only if every strong
// import carries a version: an unversioned one (a symbol the glibc it was linked against lacks)
// binds to whatever the running glibc has, or fails to load, so `unversionedImports` lists them
// (Node-API's napi_* functions come from the host executable and carry none). Used by
// `scripts/release.mjs check` (a binary is published only when it matches the floor binding.js
// states and has no such import) and by __test__/loader.test.mjs.
//
//   node scripts/glibc-floor.mjs file.node   -> prints e.g. "2.27"
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 0x2;

function elf(path) {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const section = (i) => {
    const o = shoff + i * shentsize;
    return {
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      info: b.readUInt32LE(o + 0x2c),
    };
  };
  const sections = Array.from({ length: shnum }, (_, i) => section(i));
  const strings = (s) => (o) => b.toString('latin1', sections[s.link].offset + o, b.indexOf(0, sections[s.link].offset + o));
  return { b, sections, strings };
}

// Every version needed, as { file, name, weak } (e.g. { file: 'libc.so.6', name: 'GLIBC_2.17' }).
export function versionNeeds(path) {
  const { b, sections, strings } = elf(path);
  const needs = [];
  for (const s of sections) {
    if (s.type !== SHT_GNU_VERNEED) continue;
    const str = strings(s);
    // Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
    // Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
    let vn = s.offset;
    for (let n = 0; n < s.info; n++) {
      const file = str(b.readUInt32LE(vn + 4));
      let aux = vn + b.readUInt32LE(vn + 8);
      for (let k = 0, cnt = b.readUInt16LE(vn + 2); k < cnt; k++) {
        needs.push({ file, name: str(b.readUInt32LE(aux + 8)), weak: (b.readUInt16LE(aux + 4) & VER_FLG_WEAK) !== 0 });
        aux += b.readUInt32LE(aux + 12);
      }
      vn += b.readUInt32LE(vn + 12);
    }
  }
  return needs;
}

// Undefined, non-weak dynamic symbols without a version, other than Node-API's.
export function unversionedImports(path) {
  const { b, sections, strings } = elf(path);
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
  if (!dynsym) return [];
  const str = strings(dynsym);
  const count = dynsym.size / 24; // Elf64_Sym
  const out = [];
  for (let i = 1; i < count; i++) {
    const o = dynsym.offset + i * 24;
    const bind = b[o + 4] >> 4;
    const shndx = b.readUInt16LE(o + 6);
    const version = versym ? b.readUInt16LE(versym.offset + i * 2) & 0x7fff : 1;
    const name = str(b.readUInt32LE(o));
    if (shndx === 0 && bind === 1 && version <= 1 && !/^(napi|node_api)_/.test(name)) out.push(name);
  }
  return out;
}

function compare(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return 0;
}

// "2.27" for a binary whose newest non-weak need is GLIBC_2.27; null when it needs none.
export function glibcFloor(path) {
  let floor = null;
  for (const { name, weak } of versionNeeds(path)) {
    const m = /^GLIBC_(\d+\.\d+(?:\.\d+)?)$/.exec(name);
    if (m && !weak && (floor === null || compare(m[1], floor) > 0)) floor = m[1];
  }
  return floor;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!process.argv[2]) {
    console.error('usage: node scripts/glibc-floor.mjs file.node');
    process.exit(2);
  }
  console.log(glibcFloor(process.argv[2]) ?? 'none');
  const loose = unversionedImports(process.argv[2]);
  if (loose.length) console.log(`unversioned imports: ${loose.join(' ')}`);
}
