// A lock per upload so two processes never drive one upload. The lock file `<id>.lock` holds the
// owner's pid, host and a random nonce, and appears with that content already in it: it is written
// to a file of its own first, then linked into place (exclusive-create.ts). It is a lease: one timer
// per process renews (touches) every lock the process holds; a lock whose holder is gone, or that
// nobody renewed for LEASE_MS, is stale and taken over (lock-takeover.ts). Whether a holder is gone
// is decided in one place, lock-owner.ts. Taking the lock makes no synchronous filesystem call.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { createExclusive } from './exclusive-create.js';
import { judge, LEASE_MS, ours, parseOwner, readSnapshot, RENEW_MS, UNREADABLE_STALE_MS, type Liveness, type LockOwner, type LockSnapshot } from './lock-owner.js';
import { takeOver } from './lock-takeover.js';
import { ensureStateDirAsync, stateDirError } from './state-dir.js';
import { removeFile, removeFileSync } from './remove.js';
import { sleep } from '../util/sleep.js';

export { isProcessAlive, LEASE_MS, RENEW_MS, UNREADABLE_STALE_MS, type Liveness, type LockOwner } from './lock-owner.js';

export interface Lock {
  file: string;
  /** Removes the lock if it is still ours. Synchronous, for exit paths; idempotent. */
  release(): void;
  releaseAsync(): Promise<void>;
  /** Throws LOCKED if the lease was lost (this process stalled past LEASE_MS and another took the lock over). */
  confirm(): Promise<void>;
}

export function lockPath(dir: string, id: string): string {
  return path.join(dir, `${id}.lock`);
}

/** How often to look again while another process is taking over a stale lock (a few ms' work). */
const ATTEMPTS = 40;

/** A fresh lock's nonce and content; `since` is also when its lease starts. */
function newOwner(): { nonce: string; since: number; content: string } {
  const nonce = randomBytes(8).toString('hex');
  const since = Date.now();
  return { nonce, since, content: JSON.stringify({ pid: process.pid, host: os.hostname(), since, nonce }) };
}

/**
 * Takes the lock of upload `id`, or throws LOCKED ('state', exit 1) naming the live holder.
 * Several callers at once, in this process or others: exactly one gets it. An empty lock (being
 * written, or left by a writer killed before it wrote) is waited on, at most UNREADABLE_STALE_MS.
 * Another host's lock within its lease is watched: renewed, its holder is alive (LOCKED); not
 * renewed for LEASE_MS (measured here too, in case that host's clock runs ahead), it is taken over.
 * `signal` (Ctrl-C) ends every wait at once, with its reason: a lock is waited for only to start work.
 */
export async function acquireLock(dir: string, id: string, onWait?: (line: string) => void, signal?: AbortSignal): Promise<Lock> {
  await ensureStateDirAsync(dir);
  const file = lockPath(dir, id);
  const { nonce, since, content } = newOwner();
  let leaseFrom = since;
  const source = `${file}.new-${nonce}`;
  ours.add(nonce); // from now on a lock or claim with this nonce is live, even before we return
  let got = false;
  try {
    await writeFileAtomic(source, content, { mode: 0o600 });
    let busyBy: LockOwner | undefined;
    const writtenBy = Date.now() + UNREADABLE_STALE_MS + 1_000;
    let watched: { snap: LockSnapshot; at: number } | undefined;
    // After a wait, before it is put in place: our lock (and our takeover claim, the same file) must not look lapsed.
    const renewSource = async () => {
      if (Date.now() - leaseFrom < RENEW_MS) return;
      leaseFrom = Date.now();
      await fs.promises.utimes(source, leaseFrom / 1000, leaseFrom / 1000);
    };
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      await renewSource();
      if (await createExclusive(source, file, content)) {
        got = true;
        break;
      }
      const snap = await readSnapshot(file);
      if (!snap) continue; // released meanwhile: try again
      const v = judge(snap);
      if (v.why === 'other-host' && watched?.snap.text !== snap.text) {
        watched = { snap, at: Date.now() };
        const o = snap.owner!;
        const ago = Math.round(snap.ageMs / 1000);
        onWait?.(`waiting for the lock of another lakeup (pid ${o.pid} on ${o.host}), not renewed for ${ago} s: it is free after ${LEASE_MS / 1000} s unless renewed`);
      } else if (v.why === 'other-host' && watched?.snap.key !== snap.key) throw lockedError(v); // renewed: its holder works
      const waitOn = v.why === 'being-written' ? Date.now() < writtenBy : v.why === 'other-host' && Date.now() - (watched?.at ?? 0) <= LEASE_MS;
      if (v.live && waitOn) {
        // Empty: its writer is between creating and filling it (milliseconds), or was killed
        // there. Another host's: renewed within RENEW_MS if its holder lives. Look again.
        attempt--;
        await sleep(v.why === 'other-host' ? RENEW_MS / 10 : 20 + Math.floor(Math.random() * 30), signal);
        continue;
      }
      if (v.live && v.why !== 'other-host') throw lockedError(v);
      await renewSource();
      const t = await takeOver(file, snap, source, content);
      if (t.result === 'taken') {
        got = true;
        break;
      }
      if (t.result === 'busy') {
        busyBy = t.by;
        await sleep(10 + Math.floor(Math.random() * 20), signal); // then we will see its new lock
      }
    }
    if (!got) throw lockedError({ live: true, why: 'running', owner: busyBy });
  } catch (err) {
    throw err instanceof LakeupError ? err : stateDirError(dir, err);
  } finally {
    await removeFile(source).catch(() => undefined); // its name is in place, or useless
    if (!got) ours.delete(nonce);
  }
  return heldLock(file, nonce, leaseFrom);
}

/**
 * The same lock at a third of the cost, for the thousands of small files of a run: created with
 * open('wx') and its content written at once, no fsync (a lock only has to outlive its process).
 * Between the open and the write the file is empty: acquireLock waits such a lock out until it
 * names its owner, or (its writer killed right there) until it is UNREADABLE_STALE_MS old. When
 * the name is taken, the full acquireLock judges the holder and takes a stale lock over. The state
 * folder must exist.
 */
export async function acquireLockQuick(dir: string, id: string, onWait?: (line: string) => void, signal?: AbortSignal): Promise<Lock> {
  const file = lockPath(dir, id);
  const { nonce, since, content } = newOwner();
  ours.add(nonce);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'wx', 0o600);
  } catch {
    ours.delete(nonce);
    return acquireLock(dir, id, onWait, signal); // taken (judge it), or a folder problem (said there)
  }
  try {
    await fh.writeFile(content);
    await fh.close();
  } catch (err) {
    // A full disk: the lock is ours and empty, and left so it would hold the next lakeup back.
    await fh.close().catch(() => undefined);
    await removeFile(file).catch(() => undefined);
    ours.delete(nonce);
    throw stateDirError(dir, err);
  }
  return heldLock(file, nonce, since);
}

/** A lock this process holds: `renewed` is when its lease last started (its mtime, at the latest). */
interface Held {
  file: string;
  nonce: string;
  renewed: number;
  lost?: boolean;
}

/** Every lock this process holds, renewed together by one timer: a few fs calls per lock every RENEW_MS. */
const holding = new Set<Held>();
let heartbeat: NodeJS.Timeout | undefined;

function hold(h: Held, on: boolean): void {
  if (on) holding.add(h);
  else holding.delete(h);
  if (holding.size > 0) heartbeat ??= setInterval(() => holding.forEach((x) => void renew(x)), RENEW_MS).unref();
  else if (heartbeat) heartbeat = void clearInterval(heartbeat);
}

/** Touches the lock if it is still ours; marks it lost if it is gone or another's. */
async function renew(h: Held): Promise<void> {
  const now = Date.now();
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(h.file, 'r+');
    if (parseOwner(await fh.readFile('utf8'))?.nonce !== h.nonce) h.lost = true;
    else {
      await fh.utimes(now / 1000, now / 1000);
      h.renewed = now;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') h.lost = true; // else: the next beat tries again
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

function heldLock(file: string, nonce: string, since: number): Lock {
  const h: Held = { file, nonce, renewed: since };
  hold(h, true);
  let released = false;
  const isOurs = (text: string) => parseOwner(text)?.nonce === nonce;
  // Nobody takes over a lease renewed less than LEASE_MS ago: only a process that stalled must look.
  const sure = () => !h.lost && Date.now() - h.renewed < LEASE_MS / 2;
  // The nonce is forgotten only after the file is gone: until then, a concurrent acquireLock of
  // this process must see the lock as live, not as a stale lock of an earlier process with our pid.
  const done = () => {
    ours.delete(nonce);
    hold(h, false);
  };
  return {
    file,
    release() {
      if (released) return;
      released = true;
      try {
        if (isOurs(fs.readFileSync(file, 'utf8'))) removeFileSync(file);
      } catch {
        /* gone already; or left behind, and stale once we exit */
      } finally {
        done();
      }
    },
    async releaseAsync() {
      if (released) return;
      released = true;
      try {
        if (sure() || isOurs(await fs.promises.readFile(file, 'utf8'))) await removeFile(file);
      } catch {
        /* gone already; or left behind, and stale once we exit */
      } finally {
        done();
      }
    },
    async confirm() {
      if (!sure()) await renew(h);
      if (h.lost || released) {
        throw new LakeupError('state', `lost the lock ${file}: this lakeup stalled for more than ${LEASE_MS / 1000} s and another took it over`, { code: 'LOCKED' });
      }
    },
  };
}

function lockedError(v: Liveness): LakeupError {
  const o = v.owner;
  const who = !o ? 'another lakeup' : v.why === 'other-host' ? `another lakeup (pid ${o.pid} on ${o.host})` : `another lakeup (pid ${o.pid})`;
  return new LakeupError('state', `${who} is already uploading this file; wait for it to finish or stop it`, { code: 'LOCKED' });
}

/**
 * Deletes upload `id`'s lock if its holder is gone (lock-owner.ts's rule), without ever holding it:
 * for the sweep of locks that guard nothing. True when it is gone (by us or another).
 */
export async function removeStaleLock(dir: string, id: string): Promise<boolean> {
  const file = lockPath(dir, id);
  const snap = await readSnapshot(file);
  if (!snap) return true;
  if (judge(snap).live) return false;
  const { nonce, content } = newOwner();
  const source = `${file}.new-${nonce}`;
  ours.add(nonce); // our claim is live while we hold it
  try {
    await writeFileAtomic(source, content, { mode: 0o600 });
    const t = await takeOver(file, snap, source, content, true);
    return t.result === 'taken' || !(await readSnapshot(file));
  } finally {
    await removeFile(source).catch(() => undefined);
    ours.delete(nonce);
  }
}

/** The holder of upload `id`'s lock and whether it is alive; undefined when there is no lock. */
export async function readLock(dir: string, id: string): Promise<Liveness | undefined> {
  const snap = await readSnapshot(lockPath(dir, id));
  return snap && judge(snap);
}
