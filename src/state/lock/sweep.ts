// What a lakeup killed mid-step leaves in the state folder, cleared by the next command that runs there (put, list,
// resume, abort): nothing else would ever remove it, and `ls` of the folder would show it forever.
//
//  - temp files of atomic writes (`<file>.<host>-<pid>-<rand>.tmp`) whose process is gone (another
//    host's: older than a lock's lease);
//  - lock sources (`<id>.lock.new-<nonce>`) whose writer is gone: its lock, if it got one, is a
//    hard link of its own, so the source's name is never needed again;
//  - takeover claims (`<id>.lock.takeover-<key>-<gen>`) whose taker is gone, on a lock that is no
//    longer there or no longer the one claimed: no taker can claim that lock again (keys never
//    repeat), and a living one that holds such a claim only re-reads and gives up (takeover.ts);
//  - a lock whose process is gone and that guards nothing (no state file or run journal beside it):
//    deleted under a takeover claim, never taken: a lakeup starting at that moment on the same
//    upload meets the dead lock or none, never the sweeper's name, and never two holders;
//  - a URL file (`<id>.urls.json`) without its state file: a kill between writing the two (the URL
//    file goes first) or between removing them. It holds presigned URLs, write credentials, and
//    nothing reads it without its state. Removed under the upload's lock, which every writer of
//    the pair holds, so never one a living upload is writing.
// Everything of a process that is still running, or of another host within a lease, is left alone.
import fs from 'node:fs';
import path from 'node:path';
import { isTempOfDeadProcess } from '../atomic-write.js';
import { removeFile } from '../remove.js';
import { acquireLock } from './acquire.js';
import { readLiveness, readSnapshot } from './owner.js';
import { removeStaleLock } from './takeover.js';

const LOCK_SOURCE = /\.lock\.new-[0-9a-f]+$/;
const CLAIM = /^(.*\.lock)\.takeover-([0-9a-f]+)-\d+$/;
const LOCK = /^(.+)\.lock$/;
const URLS = /^(.+)\.urls\.json$/;

/** Clears the leftovers of killed processes from `dir`. Never throws: a leftover kept is harmless. */
export async function sweepStateDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  const present = new Set(names);
  const rm = (name: string) => removeFile(path.join(dir, name)).catch(() => undefined);
  for (const name of names) {
    try {
      if (name.endsWith('.tmp')) {
        const ageMs = Date.now() - (await fs.promises.stat(path.join(dir, name))).mtimeMs;
        if (isTempOfDeadProcess(name, ageMs)) await rm(name);
        continue;
      }
      if (LOCK_SOURCE.test(name)) {
        if ((await readLiveness(path.join(dir, name)))?.live === false) await rm(name);
        continue;
      }
      const claim = CLAIM.exec(name);
      if (claim) {
        if ((await readLiveness(path.join(dir, name)))?.live !== false) continue;
        const lock = await readSnapshot(path.join(dir, claim[1]));
        if (lock?.key !== claim[2]) await rm(name);
        continue;
      }
      const urls = URLS.exec(name);
      if (urls) {
        const id = urls[1];
        if (present.has(`${id}.json`)) continue;
        if ((await readLiveness(path.join(dir, `${id}.lock`)))?.live) continue; // a living upload (or another host's, within its lease) may be writing the pair
        const held = await acquireLock(dir, id); // LOCKED: one took it meanwhile
        try {
          const stateThere = await fs.promises.access(path.join(dir, `${id}.json`)).then(() => true, () => false);
          if (!stateThere) await rm(name);
        } finally {
          await held.releaseAsync();
        }
        continue;
      }
      const lock = LOCK.exec(name);
      if (lock) {
        const id = lock[1];
        const guards = id.endsWith('-run') ? `${id.slice(0, -'-run'.length)}.run.ndjson` : `${id}.json`;
        if (present.has(guards)) continue; // the next upload of it takes the lock over
        await removeStaleLock(dir, id);
      }
    } catch {
      /* taken by someone else meanwhile, or unreadable: left as it is */
    }
  }
}
