// A lock this process holds is a lease: one timer per process renews (touches) every lock the process
// holds, every RENEW_MS; a lock nobody renewed for LEASE_MS is dead wherever it was taken (owner.ts).
// Here: the held locks, their heartbeat, and releasing one.
import fs from 'node:fs';
import { LakeupError } from '../../errors.js';
import { removeFile, removeFileSync } from '../remove.js';
import { LEASE_MS, ours, parseOwner, RENEW_MS } from './owner.js';

export interface Lock {
  file: string;
  /** Removes the lock if it is still ours. Synchronous, for exit paths; idempotent. */
  release(): void;
  releaseAsync(): Promise<void>;
  /** Throws LOCKED if the lease was lost (this process stalled past LEASE_MS and another took the lock over). */
  confirm(): Promise<void>;
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

/** The lock at `file`, just taken with `nonce`, its lease started at `since`: renewed until released. */
export function heldLock(file: string, nonce: string, since: number): Lock {
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
