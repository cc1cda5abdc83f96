// A lock per upload so two processes never drive one upload. The lock file `<id>.lock` holds the
// owner's pid, host and a random nonce, and appears with that content already in it: it is written
// to a file of its own first, then linked into place (exclusive-create.ts). A lock whose process
// is gone (kill -9) is stale and taken over (lock-takeover.ts); whether it is gone is decided in
// one place, lock-owner.ts. Taking the lock makes no synchronous filesystem call.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LakeupError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { createExclusive } from './exclusive-create.js';
import { judge, ours, parseOwner, readSnapshot, UNREADABLE_STALE_MS, type Liveness, type LockOwner } from './lock-owner.js';
import { takeOver } from './lock-takeover.js';
import { ensureStateDirAsync, stateDirError } from './state-dir.js';
import { removeFile, removeFileSync } from './remove.js';

export { isProcessAlive, UNREADABLE_STALE_MS, type Liveness, type LockOwner } from './lock-owner.js';

export interface Lock {
  file: string;
  /** Removes the lock if it is still ours. Synchronous, for exit paths; idempotent. */
  release(): void;
  releaseAsync(): Promise<void>;
}

export function lockPath(dir: string, id: string): string {
  return path.join(dir, `${id}.lock`);
}

/** How often to look again while another process is taking over a stale lock (a few ms' work). */
const ATTEMPTS = 40;

/**
 * Takes the lock of upload `id`, or throws LOCKED ('state', exit 1) naming the live holder.
 * Several callers at once, in this process or others: exactly one gets it. An empty lock (being
 * written, or left by a writer killed before it wrote) is waited on, at most UNREADABLE_STALE_MS.
 */
export async function acquireLock(dir: string, id: string): Promise<Lock> {
  await ensureStateDirAsync(dir);
  const file = lockPath(dir, id);
  const nonce = randomBytes(8).toString('hex');
  const content = JSON.stringify({ pid: process.pid, host: os.hostname(), since: Date.now(), nonce });
  const source = `${file}.new-${nonce}`;
  ours.add(nonce); // from now on a lock or claim with this nonce is live, even before we return
  let got = false;
  try {
    await writeFileAtomic(source, content, { mode: 0o600 });
    let busyBy: LockOwner | undefined;
    const writtenBy = Date.now() + UNREADABLE_STALE_MS + 1_000;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (await createExclusive(source, file, content)) {
        got = true;
        break;
      }
      const snap = await readSnapshot(file);
      if (!snap) continue; // released meanwhile: try again
      const v = judge(snap);
      if (v.live && v.why === 'being-written' && Date.now() < writtenBy) {
        // Empty: its writer is between creating and filling it (milliseconds), or was killed
        // there. Look again until it names its owner or is old enough to be a dead writer's.
        attempt--;
        await sleep(20 + Math.floor(Math.random() * 30));
        continue;
      }
      if (v.live) throw lockedError(v);
      const t = await takeOver(file, snap, source, content);
      if (t.result === 'taken') {
        got = true;
        break;
      }
      if (t.result === 'busy') {
        busyBy = t.by;
        await sleep(10 + Math.floor(Math.random() * 20)); // then we will see its new lock
      }
    }
    if (!got) throw lockedError({ live: true, why: 'running', owner: busyBy });
  } catch (err) {
    throw err instanceof LakeupError ? err : stateDirError(dir, err);
  } finally {
    await removeFile(source).catch(() => undefined); // its name is in place, or useless
    if (!got) ours.delete(nonce);
  }
  return heldLock(file, nonce);
}

/**
 * The same lock at a third of the cost, for the thousands of small files of a run: created with
 * open('wx') and its content written at once, no fsync (a lock only has to outlive its process).
 * Between the open and the write the file is empty: acquireLock waits such a lock out until it
 * names its owner, or — its writer killed right there — until it is UNREADABLE_STALE_MS old. When the name is taken, the full
 * acquireLock judges the holder and takes a stale lock over. The state folder must exist.
 */
export async function acquireLockQuick(dir: string, id: string): Promise<Lock> {
  const file = lockPath(dir, id);
  const nonce = randomBytes(8).toString('hex');
  const content = JSON.stringify({ pid: process.pid, host: os.hostname(), since: Date.now(), nonce });
  ours.add(nonce);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'wx', 0o600);
  } catch {
    ours.delete(nonce);
    return acquireLock(dir, id); // taken (judge it), or a folder problem (said there)
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
  return heldLock(file, nonce, true);
}

/** `known`: nobody can have replaced it (a live holder's lock is never taken over), so release skips reading it. */
function heldLock(file: string, nonce: string, known = false): Lock {
  let released = false;
  const isOurs = (text: string) => parseOwner(text)?.nonce === nonce;
  // The nonce is forgotten only after the file is gone: until then, a concurrent acquireLock of
  // this process must see the lock as live, not as a stale lock of an earlier process with our pid.
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
        ours.delete(nonce);
      }
    },
    async releaseAsync() {
      if (released) return;
      released = true;
      try {
        if (known || isOurs(await fs.promises.readFile(file, 'utf8'))) await removeFile(file);
      } catch {
        /* gone already; or left behind, and stale once we exit */
      } finally {
        ours.delete(nonce);
      }
    },
  };
}

function lockedError(v: Liveness): LakeupError {
  const o = v.owner;
  const who = !o ? 'another lakeup' : v.why === 'other-host' ? `another lakeup (pid ${o.pid} on ${o.host})` : `another lakeup (pid ${o.pid})`;
  return new LakeupError('state', `${who} is already uploading this file; wait for it to finish or stop it`, { code: 'LOCKED' });
}

/** The holder of upload `id`'s lock and whether it is alive; undefined when there is no lock. */
export async function readLock(dir: string, id: string): Promise<Liveness | undefined> {
  const snap = await readSnapshot(lockPath(dir, id));
  return snap && judge(snap);
}
