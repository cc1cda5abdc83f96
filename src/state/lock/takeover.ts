// Replacing a stale lock when several processes may judge the same stale lock at once, without
// ever removing a live one.
//
// Why exactly one taker replaces a given stale lock S, and only S:
//  - `file` changes in three ways only: `link` creates it when there is none (create.ts); its owner
//    removes it on release; a taker renames its own lock over it. The owner of S is gone (that is
//    why S was judged stale), and link fails while S is there; so only takers can change it.
//  - A taker renames over `file` only while it holds a claim on S — `claimPath(file, S.key, gen)`,
//    created exclusively (link: EEXIST if it exists) — and only after reading `file` again, after
//    taking the claim, and finding S's key. A taker moves to generation gen+1 only after reading
//    that the holder of generation gen is gone, and gone processes do nothing more; so at any
//    moment at most one living process holds a claim on S.
//  - Hence from that re-read until its rename, nobody else can change `file`: the rename replaces
//    S itself, never a fresh lock, and `file` is never empty in between, so no ordinary `link`
//    slips into a gap.
//  - Keys (content with a random nonce, inode, size, mtime) do not repeat, so a claim on a lock
//    that is already gone only makes its holder re-read, see another key, and give up.
// (Moving S aside first and putting back a fresh lock moved by mistake would leave `file` empty
// between the two steps, and a third process could link its lock into that gap: two holders.)
import { LakeupError } from '../../errors.js';
import { renameWithRetry } from '../atomic-write.js';
import { removeFile } from '../remove.js';
import { createExclusive, lockPath, withSource } from './create.js';
import { judge, readSnapshot, type LockOwner, type LockSnapshot } from './owner.js';

export type Takeover =
  /** Our lock is in place of the stale one. */
  | { result: 'taken' }
  /** The stale lock is no longer there: look again. */
  | { result: 'changed' }
  /** Another living process is taking it over right now. */
  | { result: 'busy'; by?: LockOwner };

/** Takers that died while holding a claim, at most, before we give up (a sign of something odd). */
const MAX_GENERATIONS = 16;

export function claimPath(file: string, key: string, gen: number): string {
  return `${file}.takeover-${key}-${gen}`;
}

/**
 * Replaces the stale lock `stale` (read from `file`) with our lock: `source` is a fully written
 * file holding `content`, our lock; it is renamed into place on success. With `remove`, the stale
 * lock is deleted instead and nothing takes its place: a sweep clears a lock that guards nothing
 * without ever holding it, so no lakeup starting on that upload meets the sweeper's name.
 * (Deleting under the claim is as safe as the rename: from the re-read on, `file` is S.)
 */
export async function takeOver(file: string, stale: LockSnapshot, source: string, content: string, remove = false): Promise<Takeover> {
  let gen = 0;
  for (let tries = 0; gen < MAX_GENERATIONS && tries < 4 * MAX_GENERATIONS; tries++) {
    const claim = claimPath(file, stale.key, gen);
    if (!(await createExclusive(source, claim, content))) {
      const holder = await readSnapshot(claim);
      if (!holder) continue; // released meanwhile: this generation again
      const v = judge(holder);
      if (v.live) return { result: 'busy', by: v.owner };
      gen++; // its taker died holding it: the next generation
      continue;
    }
    let staleGone = false;
    try {
      const now = await readSnapshot(file);
      if (now?.key !== stale.key) {
        staleGone = true;
        return { result: 'changed' };
      }
      if (remove) await removeFile(file);
      else await renameWithRetry(source, file);
      staleGone = true;
      return { result: 'taken' };
    } finally {
      // Claims on a lock that is gone are moot: ours, and those of the dead takers before us.
      for (let g = staleGone ? 0 : gen; g <= gen; g++) await removeFile(claimPath(file, stale.key, g)).catch(() => undefined);
    }
  }
  throw new LakeupError(
    'state',
    `cannot take over the stale lock ${file}: too many abandoned takeover claims beside it (remove ${file}.takeover-* if no lakeup is running)`,
    { code: 'LOCKED' },
  );
}

/**
 * Deletes upload `id`'s lock if its holder is gone (owner.ts's rule), without ever holding it: for
 * the sweep of locks that guard nothing. True when it is gone (by us or another).
 */
export async function removeStaleLock(dir: string, id: string): Promise<boolean> {
  const file = lockPath(dir, id);
  const snap = await readSnapshot(file);
  if (!snap) return true;
  if (judge(snap).live) return false;
  return withSource(file, async ({ source, content }) => {
    const t = await takeOver(file, snap, source, content, true);
    return t.result === 'taken' || !(await readSnapshot(file));
  });
}
