import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/state/lock.js';
import { thrown } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-lock-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const ID = '0123456789abcdef';

/** The pid of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('acquireLock', () => {
  it('creates a lock file holding our pid and host', () => {
    const lock = acquireLock(dir, ID);
    expect(lock.file).toBe(path.join(dir, `${ID}.lock`));
    const owner = JSON.parse(fs.readFileSync(lock.file, 'utf8'));
    expect(owner.pid).toBe(process.pid);
    expect(owner.host).toBe(os.hostname());
    lock.release();
  });

  it('refuses a second lock on the same upload, naming the pid that holds it', () => {
    const lock = acquireLock(dir, ID);
    const e = thrown(() => acquireLock(dir, ID));
    expect(e.kind).toBe('state');
    expect(e.code).toBe('LOCKED');
    expect(e.message).toContain(`pid ${process.pid}`);
    lock.release();
  });

  it('locks different uploads independently', () => {
    const a = acquireLock(dir, ID);
    const b = acquireLock(dir, 'fedcba9876543210');
    expect(a.file).not.toBe(b.file);
    a.release();
    b.release();
  });

  it('takes over a lock whose process is gone', async () => {
    const pid = await deadPid();
    const file = path.join(dir, `${ID}.lock`);
    fs.writeFileSync(file, JSON.stringify({ pid, host: os.hostname(), since: 0 }));
    const lock = acquireLock(dir, ID);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a half-written lock file', () => {
    fs.writeFileSync(path.join(dir, `${ID}.lock`), '{"pid":');
    const lock = acquireLock(dir, ID);
    expect(JSON.parse(fs.readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('respects a lock held on another host (its pid cannot be checked from here)', async () => {
    const pid = await deadPid();
    fs.writeFileSync(path.join(dir, `${ID}.lock`), JSON.stringify({ pid, host: 'elsewhere.example', since: 0 }));
    const e = thrown(() => acquireLock(dir, ID));
    expect(e.code).toBe('LOCKED');
    expect(e.message).toContain('elsewhere.example');
  });

  it('release removes the lock, and a new lock can then be taken', () => {
    const lock = acquireLock(dir, ID);
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
    const again = acquireLock(dir, ID);
    expect(fs.existsSync(again.file)).toBe(true);
    again.release();
  });

  it('releasing twice does not remove a lock someone else took meanwhile', () => {
    const first = acquireLock(dir, ID);
    first.release();
    const second = acquireLock(dir, ID);
    first.release();
    expect(fs.existsSync(second.file)).toBe(true);
    second.release();
  });

  it.skipIf(process.platform === 'win32')('writes the lock file with mode 0600', () => {
    const lock = acquireLock(dir, ID);
    expect(fs.statSync(lock.file).mode & 0o777).toBe(0o600);
    lock.release();
  });
});
