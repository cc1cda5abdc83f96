// What a lock file holds, who wrote it, and whether that holder is still alive: the one liveness rule,
// used to take a lock (acquire.ts), to take over a stale one (takeover.ts), by the sweep and by
// `lakeup list`/`abort`. It imports nothing of the state folder, so atomic-write.ts (which the lock
// itself writes with) takes its temp-file rule from here without an import cycle.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

/** What a lock file (or a takeover claim) holds. */
export interface LockOwner {
  pid: number;
  /** Absent in locks of old versions, which were always of this host. */
  host?: string;
  since?: number;
  /** Unique per lock taken: tells this lock from an earlier one with the same pid. */
  nonce?: string;
}

export type Liveness =
  | { live: true; why: 'running' | 'other-host' | 'this-process' | 'being-written'; owner?: LockOwner }
  | { live: false; why: 'gone' | 'reused-pid' | 'unreadable' | 'lapsed'; owner?: LockOwner };

/** One reading of a lock file. */
export interface LockSnapshot {
  text: string;
  owner?: LockOwner;
  ageMs: number;
  /** Identifies this very lock file (content, inode, size, mtime): equal keys, same lock. */
  key: string;
}

/**
 * An unparsable lock younger than this may be one being written (a lock made without hard links,
 * see create.ts); older, it is the leftover of an old version or of a crash.
 */
export const UNREADABLE_STALE_MS = 5_000;

/** A lock is a lease: its holder renews it (its mtime) every RENEW_MS; one not renewed for LEASE_MS is dead wherever it was taken. */
export const LEASE_MS = 30_000;
export const RENEW_MS = 5_000;

/** Nonces of the locks and claims this process has written and not released (see `judge`). */
export const ours = new Set<string>();

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function parseOwner(text: string): LockOwner | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!j || typeof j !== 'object') return undefined;
  const o = j as Record<string, unknown>;
  if (!Number.isInteger(o.pid) || (o.pid as number) <= 0) return undefined;
  return {
    pid: o.pid as number,
    host: typeof o.host === 'string' ? o.host : undefined,
    since: typeof o.since === 'number' ? o.since : undefined,
    nonce: typeof o.nonce === 'string' ? o.nonce : undefined,
  };
}

/**
 * Whether the holder of a lock is alive. A lock with our own pid is live only if this process wrote
 * it (else: a previous process with the same pid, a container's pid 1 after a restart). Any other
 * lock not renewed for LEASE_MS is dead (lapsed), wherever it was taken; within its lease, one of
 * this host is dead at once if its process is gone, and another host's is live (its pid means
 * nothing here). An unreadable lock is stale only once it is older than UNREADABLE_STALE_MS.
 */
export function judge(snap: Pick<LockSnapshot, 'owner' | 'ageMs'>): Liveness {
  const owner = snap.owner;
  if (!owner) return snap.ageMs > UNREADABLE_STALE_MS ? { live: false, why: 'unreadable' } : { live: true, why: 'being-written' };
  const here = owner.host === undefined || owner.host === os.hostname();
  if (here && owner.pid === process.pid) {
    return owner.nonce !== undefined && ours.has(owner.nonce) ? { live: true, why: 'this-process', owner } : { live: false, why: 'reused-pid', owner };
  }
  if (snap.ageMs > LEASE_MS) return { live: false, why: 'lapsed', owner };
  if (!here) return { live: true, why: 'other-host', owner };
  return isProcessAlive(owner.pid) ? { live: true, why: 'running', owner } : { live: false, why: 'gone', owner };
}

/**
 * Reads a lock file: content and identity from one open file (so they belong to the same file).
 * Undefined when there is none.
 */
export async function readSnapshot(file: string): Promise<LockSnapshot | undefined> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await fh.stat({ bigint: true });
    const text = await fh.readFile('utf8');
    const key = createHash('sha256').update(`${st.ino}:${st.size}:${st.mtimeNs}:${text}`).digest('hex').slice(0, 16);
    return { text, owner: parseOwner(text), ageMs: Date.now() - Number(st.mtimeMs), key };
  } finally {
    await fh.close();
  }
}

/** The holder of the lock file `file` and whether it is alive; undefined when there is none. */
export async function readLiveness(file: string): Promise<Liveness | undefined> {
  const snap = await readSnapshot(file);
  return snap && judge(snap);
}
