// Where part bodies go: streamed to `<dir>/.sandbox-parts/<uploadId>/<n>` while their MD5 is computed (never buffered
// whole), or in sink mode counted and discarded; concatenated by streaming into the finished file on finalize.
//
// Sink mode is the benchmark's server: it must cost as little CPU as a server can (curl through it runs at well over
// 1 GiB/s on two cores), so it does not hash. Its ETags are `sink-<n>`, not MD5s: a client computes its digests but
// has nothing to compare them with, which is exactly the client-side cost the benchmark measures.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredPart {
  size: number;
  /** Hex MD5 of the stored bytes (unquoted); `sink-<n>` in sink mode. */
  etag: string;
  /** The stored bytes are not what the client sent (corrupt fault). */
  corrupt: boolean;
  /** null in sink mode. */
  path: string | null;
}

export interface ReceiveOptions {
  /** Flip the first byte (simulates corruption in transit: the stored bytes and their ETag both differ). */
  corrupt?: boolean;
  /** Called with the size of every chunk read from the source. */
  onBytes?: (n: number) => void;
}

let sinkCount = 0;
/** A sink ETag: unique, and deliberately not 32 hex digits (clients cannot mistake it for an MD5). */
export function sinkEtag(): string {
  return `sink-${++sinkCount}`;
}

/**
 * Hashes and writes a stream to `dest`; on any failure the destination is removed. With no destination (sink mode)
 * the bytes are counted and discarded, unhashed, and the ETag is a sink ETag.
 */
export async function streamToFile(
  source: AsyncIterable<Buffer>,
  dest: string | null,
  opts: ReceiveOptions = {},
): Promise<{ size: number; etag: string }> {
  if (dest === null) {
    const size = await discard(source, opts.onBytes);
    return { size, etag: sinkEtag() };
  }
  const hash = createHash('md5');
  let size = 0;
  let flip = opts.corrupt === true;
  async function* hashed(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const raw of src) {
      let chunk = raw;
      opts.onBytes?.(chunk.length);
      if (flip && chunk.length > 0) {
        chunk = Buffer.from(chunk);
        chunk[0] = chunk[0]! ^ 0xff;
        flip = false;
      }
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  }
  try {
    await pipeline(source, hashed, createWriteStream(dest));
  } catch (err) {
    await rm(dest, { force: true });
    throw err;
  }
  return { size, etag: hash.digest('hex') };
}

/** Counts and drops a body: 'data' events on a request (cheaper than async iteration), iteration otherwise. */
async function discard(source: AsyncIterable<Buffer>, onBytes?: (n: number) => void): Promise<number> {
  let size = 0;
  if (!(source instanceof Readable)) {
    for await (const chunk of source) {
      onBytes?.(chunk.length);
      size += chunk.length;
    }
    return size;
  }
  await new Promise<void>((resolve, reject) => {
    source.on('data', (chunk: Buffer) => {
      onBytes?.(chunk.length);
      size += chunk.length;
    });
    source.once('end', resolve);
    source.once('error', reject);
    source.once('close', () => (source.readableEnded ? resolve() : reject(new Error('the client went away before the whole body arrived'))));
  });
  return size;
}

export class PartStore {
  private readonly uploads = new Set<string>();

  /** `root` is `<dir>/.sandbox-parts`; `sink` counts and discards. */
  constructor(
    readonly root: string,
    readonly sink: boolean,
  ) {}

  private uploadDir(uploadId: string): string {
    return join(this.root, uploadId);
  }

  /** A temp path for a body that is not a part (plain PUT, S3 PutObject, assembly), or null in sink mode. */
  async tempPath(label: string): Promise<string | null> {
    if (this.sink) return null;
    await mkdir(this.root, { recursive: true });
    return join(this.root, `.${label}-${randomBytes(6).toString('hex')}.tmp`);
  }

  /**
   * Receives one part body. Resolves to the stored part, or undefined when fewer than `expected` bytes arrived
   * (client aborted): then nothing is stored and an older copy of the part, if any, stays.
   */
  async receive(
    uploadId: string,
    n: number,
    source: AsyncIterable<Buffer>,
    expected: number | undefined,
    opts: ReceiveOptions = {},
  ): Promise<StoredPart | undefined> {
    let tmp: string | null = null;
    if (!this.sink) {
      const dir = this.uploadDir(uploadId);
      this.uploads.add(uploadId);
      await mkdir(dir, { recursive: true });
      tmp = join(dir, `${n}.${randomBytes(6).toString('hex')}.tmp`);
    }
    let result: { size: number; etag: string };
    try {
      result = await streamToFile(source, tmp, opts);
    } catch {
      return undefined;
    }
    if (expected !== undefined && result.size !== expected) {
      if (tmp) await rm(tmp, { force: true });
      return undefined;
    }
    let path: string | null = null;
    if (tmp) {
      path = join(this.uploadDir(uploadId), String(n));
      await rename(tmp, path); // the newest complete body wins
    }
    return { size: result.size, etag: result.etag, corrupt: opts.corrupt === true, path };
  }

  /** Concatenates parts (in the given order) into a temp file next to them; null in sink mode. */
  async assemble(uploadId: string, parts: readonly StoredPart[]): Promise<string | null> {
    if (this.sink) return null;
    const dir = this.uploadDir(uploadId);
    this.uploads.add(uploadId);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.assembled-${randomBytes(6).toString('hex')}`);
    async function* bodies(): AsyncGenerator<Buffer> {
      for (const part of parts) yield* createReadStream(part.path!, { highWaterMark: 1024 * 1024 });
    }
    try {
      await pipeline(Readable.from(bodies()), createWriteStream(tmp));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return tmp;
  }

  /** Removes an upload's part files. */
  async discard(uploadId: string): Promise<void> {
    this.uploads.delete(uploadId);
    if (!this.sink) await rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }

  /** Removes every upload this store created parts for, and the root when it is left empty. */
  async discardAll(): Promise<void> {
    await Promise.all([...this.uploads].map((id) => this.discard(id)));
    await rmdir(this.root).catch(() => undefined);
  }
}
