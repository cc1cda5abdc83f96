// Taking upload `id`'s lock (`<id>.lock`): exactly one of several takers at once gets it, in this
// process or others; a lock whose holder is gone, or that nobody renewed for LEASE_MS, is taken over
// (takeover.ts). Taking the lock makes no synchronous filesystem call.
import fs from 'node:fs';
import { LakeupError } from '../../errors.js';
import { sleep } from '../../util/sleep.js';
import { removeFile } from '../remove.js';
import { ensureStateDirAsync, stateDirError } from '../state-dir.js';
import { createExclusive, lockPath, newOwner, withSource } from './create.js';
import { heldLock, type Lock } from './lease.js';
import { judge, LEASE_MS, ours, readLiveness, readSnapshot, RENEW_MS, UNREADABLE_STALE_MS, type Liveness, type LockOwner, type LockSnapshot } from './owner.js';
import { takeOver } from './takeover.js';

/** How often to look again while another process is taking over a stale lock (a few ms' work). */
const ATTEMPTS = 40;

/**
 * Takes the lock of upload `id`, or throws LOCKED ('state', exit 1) naming the live holder.
 * Several callers at once, in this process or others: exactly one gets it. An empty lock (being
 * written, or left by a writer killed before it wrote) is waited on, at most UNREADABLE_STALE_MS.
 * Another host's lock within its lease is watched: renewed, its holder is alive (LOCKED); not
 * renewed for LEASE_MS (measured here too, in case that host's clock runs ahead), it is taken over.
 * `signal` (Ctrl-C) ends every wait at once, with its reason: a lock is waited for only to start work.
 */
export async function acquireLock(dir: string, id: string, onWait?: (line: string) => void, signal?: AbortSignal): Promise<Lock> {
  const file = lockPath(dir, id);
  try {
    await ensureStateDirAsync(dir);
    return await withSource(file, async (own) => {
      const { source, content } = own;
      let leaseFrom = own.since;
      let busyBy: LockOwner | undefined;
      const writtenBy = Date.now() + UNREADABLE_STALE_MS + 1_000;
      let watched: { snap: LockSnapshot; at: number } | undefined;
      // After a wait, before it is put in place: our lock (and our takeover claim, the same file) must not look lapsed.
      const renewSource = async () => {
        if (Date.now() - leaseFrom < RENEW_MS) return;
        leaseFrom = Date.now();
        await fs.promises.utimes(source, leaseFrom / 1000, leaseFrom / 1000);
      };
      const got = () => {
        own.kept = true;
        return heldLock(file, own.nonce, leaseFrom);
      };
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        await renewSource();
        if (await createExclusive(source, file, content)) return got();
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
        if (t.result === 'taken') return got();
        if (t.result === 'busy') {
          busyBy = t.by;
          await sleep(10 + Math.floor(Math.random() * 20), signal); // then we will see its new lock
        }
      }
      throw lockedError({ live: true, why: 'running', owner: busyBy });
    });
  } catch (err) {
    throw err instanceof LakeupError ? err : stateDirError(dir, err);
  }
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

function lockedError(v: Liveness): LakeupError {
  const o = v.owner;
  const who = !o ? 'another lakeup' : v.why === 'other-host' ? `another lakeup (pid ${o.pid} on ${o.host})` : `another lakeup (pid ${o.pid})`;
  return new LakeupError('state', `${who} is already uploading this file; wait for it to finish or stop it`, { code: 'LOCKED' });
}

/** The holder of upload `id`'s lock and whether it is alive; undefined when there is no lock. */
export function readLock(dir: string, id: string): Promise<Liveness | undefined> {
  return readLiveness(lockPath(dir, id));
}
