// Where part bodies go: streamed to `<dir>/.sandbox-parts/<uploadId>/<n>` while their MD5 is computed (never buffered
// whole), or only hashed in sink mode; concatenated by streaming into the finished file on finalize.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredPart {
  size: number;
  /** Hex MD5 of the stored bytes (unquoted). */
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

/** Hashes (and, with a destination, writes) a stream; on any failure the destination is removed. */
export async function streamToFile(
  source: AsyncIterable<Buffer>,
  dest: string | null,
  opts: ReceiveOptions = {},
): Promise<{ size: number; md5: string }> {
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
  if (dest === null) {
    for await (const chunk of hashed(source)) void chunk;
  } else {
    try {
      await pipeline(source, hashed, createWriteStream(dest));
    } catch (err) {
      await rm(dest, { force: true });
      throw err;
    }
  }
  return { size, md5: hash.digest('hex') };
}

export class PartStore {
  private readonly uploads = new Set<string>();

  /** `root` is `<dir>/.sandbox-parts`; `sink` hashes and discards. */
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
    let result: { size: number; md5: string };
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
    return { size: result.size, etag: result.md5, corrupt: opts.corrupt === true, path };
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
