// Sample files for tests: deterministic pseudo-random bytes (so a shifted or swapped part is caught)
// written in chunks, never held whole.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fillBytes } from './fill-bytes.mjs';

export async function tempDir(prefix = 'lakeup-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function makeFile(file: string, size: number, seed = 1): Promise<string> {
  const out = createWriteStream(file);
  const chunk = 1024 * 1024;
  for (let off = 0; off < size; off += chunk) {
    const buf = Buffer.allocUnsafe(Math.min(chunk, size - off));
    fillBytes(buf, seed ^ Math.floor(off / 4)); // each chunk its own seed
    if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  return file;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

export async function readRange(file: string, start: number, size: number): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(size);
    await fh.read(buf, 0, size, start);
    return buf;
  } finally {
    await fh.close();
  }
}
