// A lock per upload so two processes never drive one upload. The lock file holds the owner's pid;
// a lock whose process is gone (kill -9) is stale and taken over.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { ensureStateDir } from './state-file.js';

export interface Lock {
  file: string;
  release(): void;
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockPath(dir: string, id: string): string {
  return path.join(dir, `${id}.lock`);
}

/** Locks this process holds: its own pid in a lock file is then a live owner, not a reused pid. */
const held = new Set<string>();

export function acquireLock(dir: string, id: string): Lock {
  ensureStateDir(dir);
  const file = lockPath(dir, id);
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), since: Date.now() }));
      fs.closeSync(fd);
      held.add(file);
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          held.delete(file);
          try {
            fs.rmSync(file, { force: true });
          } catch {
            /* the lock is stale once we exit anyway */
          }
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        throw new LakeupError(
          'input',
          `cannot write resumable state in ${dir} (${code ?? (err as Error).message}); choose another folder with --state-dir or LAKEUP_STATE_DIR`,
          { code: 'STATE_DIR', cause: err },
        );
      }
    }
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      /* half-written or unreadable: treated as stale below */
    }
    const sameHost = !owner.host || owner.host === os.hostname();
    // Our own pid in a lock we do not hold means a previous process with the same pid (a
    // container's pid 1 after a restart, say): stale.
    const reusedPid = sameHost && owner.pid === process.pid && !held.has(file);
    if (owner.pid && !reusedPid && (isProcessAlive(owner.pid) || !sameHost)) {
      throw new LakeupError(
        'state',
        `another lakeup (pid ${owner.pid}${sameHost ? '' : ` on ${owner.host}`}) is already uploading this file; wait for it to finish or stop it`,
        { code: 'LOCKED' },
      );
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new LakeupError('state', `cannot take the lock ${file}`, { code: 'LOCKED' });
}
