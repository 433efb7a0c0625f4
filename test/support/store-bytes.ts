import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

/** Every file under `dir`, recursively, with its bytes: the SQLite file, its -wal and -shm, the keyring. */
export async function storeFiles(dir: string): Promise<{ name: string; bytes: Buffer }[]> {
  const out: { name: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ name: relative(dir, path), bytes: await readFile(path) });
  }
  return out;
}

/**
 * The forms a value could take in a file without being encrypted: UTF-8, UTF-16 (both byte
 * orders), hex, and base64 / base64url at each of the three alignments (the first and last four
 * characters of each depend on the neighbouring bytes, so they are left out).
 */
export function encodingsOf(value: string): { encoding: string; needle: Buffer }[] {
  const utf8 = Buffer.from(value, "utf8");
  const le = Buffer.from(value, "utf16le");
  const be = Buffer.from(le).swap16();
  const out = [
    { encoding: "utf-8", needle: utf8 },
    { encoding: "utf-16le", needle: le },
    { encoding: "utf-16be", needle: be },
    { encoding: "hex", needle: Buffer.from(utf8.toString("hex")) },
  ];
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift, 0x58), utf8]).toString("base64");
    const middle = b64.slice(4, -4);
    out.push({ encoding: `base64+${shift}`, needle: Buffer.from(middle) });
    out.push({
      encoding: `base64url+${shift}`,
      needle: Buffer.from(middle.replaceAll("+", "-").replaceAll("/", "_")),
    });
  }
  return out;
}

/** Where any of `values` appears in any of the files, in any of its encodings ("file: value as encoding"). */
export function findValues(files: { name: string; bytes: Buffer }[], values: readonly string[]): string[] {
  const hits: string[] = [];
  for (const value of values)
    for (const { encoding, needle } of encodingsOf(value))
      for (const f of files) if (f.bytes.includes(needle)) hits.push(`${f.name}: ${value} as ${encoding}`);
  return hits;
}
