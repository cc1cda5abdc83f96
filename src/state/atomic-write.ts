// Writing a file of the state folder atomically: a temp file with a unique name in the same folder,
// written and fsynced, then renamed over the target. Readers see the old content or the new one,
// never half of it, and a crash leaves at worst a `.tmp` file beside it, never a torn target (the
// next put clears it: lock/sweep.ts).
//
// Windows: an antivirus or the search indexer opens new files for a moment, and a rename over or
// of a file someone holds open fails with EPERM, EBUSY or EACCES until they let go (graceful-fs
// retries for the same reason). So the rename is retried on those codes only, with a doubling
// backoff (10, 20, 40 … ms, about 1 s in all), and then reported as one STATE_DIR error.
//
// Mode 0600 is a POSIX notion: it keeps the presigned URLs (write credentials) of a state file from
// other users of a Unix machine. Windows ignores it (only the read-only bit is mapped); there the
// state folder is protected by where it lives, %LOCALAPPDATA%\lakeup\state in the user's profile,
// whose ACL gives access to that user (and SYSTEM/Administrators) only.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, LEASE_MS } from './lock/owner.js'; // a leaf: no cycle through the lock, which writes with this module
import { stateDirError } from './state-dir.js';
import { removeFile, removeFileSync } from './remove.js';

export type Rename = (from: string, to: string) => Promise<void>;
export type RenameSync = (from: string, to: string) => void;

export interface AtomicWriteOptions {
  /** Mode of a new file (POSIX; ignored on Windows). Default 0600. */
  mode?: number;
  /** The rename to use: a seam for tests that need Windows-like EPERM/EBUSY failures. */
  rename?: Rename;
  /** How to wait between rename attempts (tests record the waits instead of sleeping). */
  wait?: (ms: number) => Promise<void>;
}

export interface AtomicWriteSyncOptions {
  mode?: number;
  rename?: RenameSync;
  wait?: (ms: number) => void;
}

/** The error codes a rename is retried on: another process holds the file for a moment. */
const TRANSIENT = new Set(['EPERM', 'EBUSY', 'EACCES']);

/** The waits between rename attempts: doubling from 10 ms, about 1 s in all. */
export const RENAME_BACKOFF_MS: readonly number[] = backoff(10, 1000);

function backoff(first: number, total: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let ms = first; sum < total; ms *= 2) {
    const step = Math.min(ms, total - sum);
    out.push(step);
    sum += step;
  }
  return out;
}

function isTransient(err: unknown): boolean {
  return TRANSIENT.has((err as NodeJS.ErrnoException)?.code ?? '');
}

/** Renames `from` to `to`, retrying while Windows reports the file busy. Throws the last error. */
export async function renameWithRetry(
  from: string,
  to: string,
  rename: Rename = (a, b) => fs.promises.rename(a, b),
  wait: (ms: number) => Promise<void> = (ms) => sleep(ms),
): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await rename(from, to);
    } catch (err) {
      if (i >= RENAME_BACKOFF_MS.length || !isTransient(err)) throw err;
      await wait(RENAME_BACKOFF_MS[i]);
    }
  }
}

// A real sleep for the synchronous path: Atomics.wait blocks the thread without spinning (Node
// allows it on the main thread). Nothing ever notifies this buffer, so it always times out.
const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export function renameWithRetrySync(from: string, to: string, rename: RenameSync = fs.renameSync, wait: (ms: number) => void = sleepSync): void {
  for (let i = 0; ; i++) {
    try {
      return rename(from, to);
    } catch (err) {
      if (i >= RENAME_BACKOFF_MS.length || !isTransient(err)) throw err;
      wait(RENAME_BACKOFF_MS[i]);
    }
  }
}

/** This host, in temp file names: a pid means something only on the host that wrote it. */
const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const TEMP_NAME = /\.([0-9a-f]{8})-(\d+)-[0-9a-f]{12}\.tmp$/;

/**
 * A name beside `file` that no other writer (thread, process) uses. It says which host and process
 * wrote it, so that the temp file of a process killed mid-write can be told from one being written
 * (lock/sweep.ts).
 */
export function tempPathFor(file: string): string {
  return `${file}.${HOST_TAG}-${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
}

/**
 * Whether `name` is a temp file of tempPathFor whose writer is gone: a process of this host that is
 * not alive, or of another host (its pid means nothing here) when the file is `ageMs` old, more than
 * a lock's lease: a write takes milliseconds, so that writer was cut off.
 */
export function isTempOfDeadProcess(name: string, ageMs = 0): boolean {
  const m = TEMP_NAME.exec(name);
  if (!m) return false;
  if (m[1] !== HOST_TAG) return ageMs > LEASE_MS;
  const pid = Number(m[2]);
  return pid !== process.pid && !isProcessAlive(pid);
}

/**
 * Writes `data` to `file` atomically without blocking the event loop. Any failure is one STATE_DIR
 * error naming the folder, and the temp file is gone whatever happened.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  try {
    await writeAtomicWith(file, (fh) => fh.writeFile(data), opts);
  } catch (err) {
    throw stateDirError(path.dirname(file), err);
  }
}

/**
 * Writes `file` atomically with `write` filling the temp file's handle (a file too big to hold as
 * one string: the journal's rewrite, the ledger): fsynced, then renamed over `file`. On any failure
 * the temp file is removed (held by a scanner: nothing more to do) and the error thrown as it came.
 */
export async function writeAtomicWith(file: string, write: (fh: fs.promises.FileHandle) => Promise<void>, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    const fh = await fs.promises.open(tmp, 'wx', opts.mode ?? 0o600);
    try {
      await write(fh);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await renameWithRetry(tmp, file, opts.rename, opts.wait);
  } catch (err) {
    await removeFile(tmp).catch(() => undefined);
    throw err;
  }
}

/** Appends `pieces` to `fh` in writes of about 64 KiB: the whole is never one string in memory. */
export async function appendInBatches(fh: fs.promises.FileHandle, pieces: Iterable<string> | AsyncIterable<string>): Promise<void> {
  let batch = '';
  for await (const piece of pieces) {
    batch += piece;
    if (batch.length > 64 << 10) {
      await fh.appendFile(batch);
      batch = '';
    }
  }
  if (batch) await fh.appendFile(batch);
}

/**
 * The same, synchronously: for the few writes that must be on disk before the next step (a new
 * session, a refresh, "finalize was sent"). A busy file costs at most ~1 s of real sleep.
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: AtomicWriteSyncOptions = {}): void {
  const tmp = tempPathFor(file);
  try {
    const fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o600);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    renameWithRetrySync(tmp, file, opts.rename, opts.wait);
  } catch (err) {
    try {
      removeFileSync(tmp);
    } catch {
      /* held by a scanner: nothing more to do */
    }
    throw stateDirError(path.dirname(file), err);
  }
}
