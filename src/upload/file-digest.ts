// What a local file's content hashes to, read once per question: its SHA-256, and the S3 multipart
// ETag it would have under a given part size (md5 of the binary part MD5s, dash, part count).
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import { LakeupError } from '../errors.js';

const CHUNK = 1024 * 1024;

/** Reads the file once, front to back, handing each chunk to `take`. */
async function readThrough(file: string, take: (chunk: Buffer) => void, signal?: AbortSignal): Promise<void> {
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK, signal });
  try {
    for await (const chunk of stream) take(chunk as Buffer);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw new LakeupError('interrupted', 'interrupted');
    throw new LakeupError('input', `${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Files above this are hashed by a worker thread: ~0.8 s of CPU per GiB kept off the thread that sends. */
const INLINE_SHA256_MAX = CHUNK;

/**
 * The SHA-256 of a file (recorded on every MemoryLake item lakeup makes, so once per file of a run).
 * Small files are read into a reused 64 KiB buffer through fs's callback API: open, read, the read
 * that finds the end, close. A ReadStream cost a stat, a 1 MiB buffer for each read (two per file:
 * memory mapped and unmapped again, and counted against the heap, so more GCs) and its iterator's
 * objects; measured on a run of 20,000 small files: docs/performance.md. A file that fills the first
 * buffer is asked its size (fstat), and one above INLINE_SHA256_MAX goes to a hashing thread.
 *
 * `size`: what the file's fingerprint says. A read that comes back short exactly there is the end
 * of the file, and the read that would find it is saved (one hand-off to libuv's threads of ~14 per
 * file). A file of another size is read to its end as any other; one whose size changed since its
 * fingerprint is refused before finalize anyway (put-file.ts).
 */
export async function sha256Of(file: string, signal?: AbortSignal, size?: number): Promise<string> {
  const cannotRead = (e: unknown) =>
    e instanceof LakeupError ? e : new LakeupError('input', `${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  const h = createHash('sha256');
  const buf = inlineBuffers.pop() ?? Buffer.allocUnsafeSlow(INLINE_READ);
  let fd: number | undefined;
  let big = false;
  try {
    fd = await call<number>((cb) => fs.open(file, 'r', cb));
    for (let at = 0; ; ) {
      if (signal?.aborted) throw new LakeupError('interrupted', 'interrupted');
      const n = await call<number>((cb) => fs.read(fd!, buf, 0, buf.length, at, cb));
      if (n === 0) break;
      const end = n < buf.length && at + n === size;
      if (at === 0 && n === buf.length && (await call<fs.Stats>((cb) => fs.fstat(fd!, cb))).size > INLINE_SHA256_MAX) {
        big = true;
        break;
      }
      h.update(buf.subarray(0, n));
      at += n;
      if (end) break;
    }
  } catch (e) {
    throw cannotRead(e);
  } finally {
    if (fd !== undefined) fs.close(fd, () => undefined);
    if (inlineBuffers.length < 16) inlineBuffers.push(buf);
  }
  return big ? sha256OnThread(file, signal) : h.digest('hex');
}

/** Read size of an inline hash, and its buffers, one per hash in flight (reused: at most 16 kept). */
const INLINE_READ = 64 * 1024;
const inlineBuffers: Buffer[] = [];

function call<T>(start: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

async function sha256OnThread(file: string, signal?: AbortSignal): Promise<string> {
  let size: number;
  try {
    size = (await fs.promises.stat(file)).size;
  } catch (e) {
    throw new LakeupError('input', `${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const { sharedMd5Pool } = await import('../transfer/md5-pool.js');
  const hash = await sharedMd5Pool()
    .hashRange(file, 0, size, 'sha256')
    .catch((e: unknown) => {
      throw new LakeupError('input', `${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    });
  signal?.throwIfAborted();
  return hash;
}

/** One layout's running state: the part being hashed, and the part MD5s so far. */
class EtagLayout {
  private part: Hash = createHash('md5');
  private inPart = 0;
  private readonly md5s = createHash('md5');
  private count = 0;

  constructor(readonly partSize: number) {}

  take(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(this.partSize - this.inPart, chunk.length - at);
      this.part.update(chunk.subarray(at, at + n));
      this.inPart += n;
      at += n;
      if (this.inPart === this.partSize) this.endPart();
    }
  }

  private endPart(): void {
    this.md5s.update(this.part.digest());
    this.count++;
    this.part = createHash('md5');
    this.inPart = 0;
  }

  etag(): string {
    if (this.inPart > 0) this.endPart();
    return `${this.md5s.digest('hex')}-${this.count}`;
  }
}

/** The multipart ETags of the file under each part size, computed in one read. */
export async function multipartEtagsOf(file: string, partSizes: readonly number[], signal?: AbortSignal): Promise<string[]> {
  const layouts = partSizes.map((p) => new EtagLayout(p));
  await readThrough(file, (c) => layouts.forEach((l) => l.take(c)), signal);
  return layouts.map((l) => l.etag());
}

/** A file's MD5 (a single-part, non-multipart ETag). */
export async function md5Of(file: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('md5');
  await readThrough(file, (c) => h.update(c), signal);
  return h.digest('hex');
}
