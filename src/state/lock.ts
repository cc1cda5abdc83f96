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

export function acquireLock(dir: string, id: string): Lock {
  ensureStateDir(dir);
  const file = lockPath(dir, id);
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), since: Date.now() }));
      fs.closeSync(fd);
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          try {
            fs.rmSync(file, { force: true });
          } catch {
            /* the lock is stale once we exit anyway */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LakeupError('state', `cannot create the lock ${file}: ${(err as Error).message}`);
      }
    }
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      /* half-written or unreadable: treated as stale below */
    }
    const sameHost = !owner.host || owner.host === os.hostname();
    if (owner.pid && (isProcessAlive(owner.pid) || !sameHost)) {
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
