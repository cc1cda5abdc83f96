// Sample files for tests: deterministic pseudo-random bytes (so a shifted or swapped part is caught)
// written in chunks, never held whole.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function tempDir(prefix = 'lakeup-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Bytes that differ at every offset: a counter-seeded xorshift, fast and repeatable. */
function fill(buf: Buffer, seed: number, offset: number): void {
  let x = (seed ^ Math.floor(offset / 4) ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  for (let i = buf.length - (buf.length % 4); i < buf.length; i++) buf[i] = (x >>> ((i % 4) * 8)) & 0xff;
}

export async function makeFile(file: string, size: number, seed = 1): Promise<string> {
  const out = createWriteStream(file);
  const chunk = 1024 * 1024;
  for (let off = 0; off < size; off += chunk) {
    const buf = Buffer.allocUnsafe(Math.min(chunk, size - off));
    fill(buf, seed, off);
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
