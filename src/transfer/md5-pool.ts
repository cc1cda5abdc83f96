// MD5 of file ranges, off the event loop: a few worker threads that each read a part's byte range
// from the file (the page cache: the send path read the same pages a moment ago) and hash it.
//
// Why re-read rather than hash the chunks being sent: the main thread's only job is then to send.
// Handing the sent chunks to a worker means a copy per chunk (the socket may still hold the
// original) and a message per chunk; re-reading costs the worker one more copy from the page cache
// (~0.1 s per GiB) and the main thread nothing. Measured on 1 GiB (docs/performance.md): sending
// and hashing then run side by side, and on a machine with a spare core verifying costs next to
// nothing in wall time. The bytes hashed are the bytes of the file range, as before; a file that
// changes under the upload is caught by put-file's size/mtime check before finalize, and a part
// whose sent bytes differ from the re-read ones fails the ETag comparison and is sent again.
//
// The worker's code is a string evaluated as a CommonJS worker, so the same file works from dist/
// and under the test runner (which cannot start a worker from a .ts file).
import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LakeupError } from '../errors.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(1024 * 1024);
parentPort.on('message', (job) => {
  let fd;
  try {
    fd = openSync(job.path, 'r');
    const hash = createHash(job.algorithm || 'md5');
    let pos = job.offset;
    let left = job.size;
    while (left > 0) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, left), pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
      left -= n;
    }
    parentPort.postMessage({ id: job.id, md5: hash.digest('hex'), short: left > 0 });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: { code: err && err.code, message: String(err && err.message || err) } });
  } finally {
    if (fd !== undefined) try { closeSync(fd); } catch {}
  }
});
`;

interface Job {
  id: number;
  path: string;
  offset: number;
  size: number;
  algorithm: 'md5' | 'sha256';
  resolve: (md5: string) => void;
  reject: (err: unknown) => void;
}

interface Reply {
  id: number;
  md5?: string;
  short?: boolean;
  error?: { code?: string; message: string };
}

/** How many hashing threads: one per core, at most 8 (MD5 is ~0.5 GB/s a core; 8 outrun any link). */
export function md5Threads(): number {
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  return Math.max(1, Math.min(8, cores));
}

export class Md5Pool {
  readonly size: number;
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(size = md5Threads()) {
    this.size = Math.max(1, size);
  }

  /** Jobs waiting for a thread plus jobs being hashed. */
  get pending(): number {
    return this.queue.length + this.busy.size;
  }

  /**
   * Hex MD5 of bytes [offset, offset+size) of the file at `path`, as read now; or their SHA-256
   * (the whole file's, recorded on the items lakeup makes: off the main thread like the MD5s).
   */
  hashRange(path: string, offset: number, size: number, algorithm: 'md5' | 'sha256' = 'md5'): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the MD5 pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, path, offset, size, algorithm, resolve, reject });
      this.pump();
    });
  }

  /** Stops the threads; jobs not yet answered are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('the MD5 pool was closed');
    for (const job of this.queue.splice(0)) job.reject(err);
    for (const job of this.busy.values()) job.reject(err);
    this.busy.clear();
    await Promise.all(this.all.splice(0).map((w) => w.terminate()));
    this.idle.length = 0;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.all.length < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      // A busy thread keeps the process alive (an answer is awaited); an idle one never does.
      worker.ref();
      worker.postMessage({ id: job.id, path: job.path, offset: job.offset, size: job.size, algorithm: job.algorithm });
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, stdout: false, stderr: false });
    worker.unref();
    this.all.push(worker);
    worker.on('message', (reply: Reply) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      this.idle.push(worker);
      worker.unref();
      if (job && job.id === reply.id) settle(job, reply);
      this.pump();
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => {
      if (!this.closed) this.lost(worker, new Error(`an MD5 thread exited (code ${code})`));
    });
    return worker;
  }

  /** A thread died: its job fails (the part is retried), the others carry on; a new thread replaces it. */
  private lost(worker: Worker, err: unknown): void {
    const job = this.busy.get(worker);
    this.busy.delete(worker);
    const i = this.all.indexOf(worker);
    if (i >= 0) this.all.splice(i, 1);
    const j = this.idle.indexOf(worker);
    if (j >= 0) this.idle.splice(j, 1);
    job?.reject(new LakeupError('network', `hashing failed: ${(err as Error)?.message ?? String(err)}`, { code: 'HASH_FAILED', cause: err }));
    if (!this.closed) this.pump();
  }
}

function settle(job: Job, reply: Reply): void {
  if (reply.error) {
    const e = reply.error;
    job.reject(Object.assign(new Error(e.message), { code: e.code }));
  } else if (reply.short) {
    job.reject(new LakeupError('input', `the file shrank while part bytes ${job.offset}-${job.offset + job.size - 1} were read: it changed during the upload`, { code: 'FILE_CHANGED' }));
  } else {
    job.resolve(reply.md5!);
  }
}

let shared: Md5Pool | undefined;
/** The process's pool, started on first use (threads start as jobs arrive). */
export function sharedMd5Pool(): Md5Pool {
  return (shared ??= new Md5Pool());
}
