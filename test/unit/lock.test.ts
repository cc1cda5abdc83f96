import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireLock, acquireLockQuick, claimPath, LEASE_MS, type Lock, readLock, readSnapshot, RENEW_MS, UNREADABLE_STALE_MS } from '../../src/state/lock/index.js';
import { deadPid, useSleeper } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { rejection } from './helpers.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-lock-'));
  file = path.join(dir, `${ID}.lock`);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ID = '0123456789abcdef';

/** A process that stays alive for the whole file: its pid is a live lock owner that is not us. */
const sleeper = useSleeper();

/** Puts a lock file in place the way another process would (atomically, by rename). */
function placeLock(content: string | object, at = file): void {
  const tmp = `${at}.test-tmp`;
  fs.writeFileSync(tmp, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  fs.renameSync(tmp, at);
}

const ownerOf = (f = file) => JSON.parse(fs.readFileSync(f, 'utf8'));
const ageBy = (ms: number, f = file) => fs.utimesSync(f, new Date(Date.now() - ms), new Date(Date.now() - ms));

/**
 * Runs `after` once, right after the lock module opens `target` for reading for the `nth` time
 * (the read of that open sees what `after` did); tells whether it did.
 */
function afterFirstRead(target: string, after: () => void, nth = 1): () => boolean {
  const realOpen = fs.promises.open;
  let done = false;
  let opens = 0;
  vi.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof fs.promises.open>) => {
    const fh = await realOpen(...args);
    if (!done && args[0] === target && (args[1] ?? 'r') === 'r' && ++opens === nth) {
      done = true;
      after();
    }
    return fh;
  });
  // The synchronous reads of an older implementation, so this test can show what it did.
  const realRead = fs.readFileSync;
  vi.spyOn(fs, 'readFileSync').mockImplementation(((...args: Parameters<typeof fs.readFileSync>) => {
    const out = realRead(...args);
    if (!done && args[0] === target) {
      done = true;
      after();
    }
    return out;
  }) as typeof fs.readFileSync);
  return () => done;
}

/** Several callers at once: the ones that got the lock, and the errors of the others. */
async function race(n: number): Promise<{ won: Lock[]; lost: unknown[] }> {
  const settled = await Promise.allSettled(Array.from({ length: n }, async () => acquireLock(dir, ID)));
  return {
    won: settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])),
    lost: settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : [])),
  };
}

describe('acquireLock', () => {
  it('creates a lock file holding our pid, host and a nonce', async () => {
    const lock = await acquireLock(dir, ID);
    expect(lock.file).toBe(file);
    expect(ownerOf()).toMatchObject({ pid: process.pid, host: os.hostname(), nonce: expect.stringMatching(/^[0-9a-f]{16}$/) });
    lock.release();
  });

  it('refuses a second lock on the same upload, naming the pid that holds it', async () => {
    const lock = await acquireLock(dir, ID);
    const e = await rejection(acquireLock(dir, ID));
    expect(e.kind).toBe('state');
    expect(e.code).toBe('LOCKED');
    expect(e.message).toBe(`another lakeup (pid ${process.pid}) is already uploading this file; wait for it to finish or stop it`);
    lock.release();
  });

  it('locks different uploads independently', async () => {
    const a = await acquireLock(dir, ID);
    const b = await acquireLock(dir, 'fedcba9876543210');
    expect(a.file).not.toBe(b.file);
    a.release();
    b.release();
  });

  it('of many callers at once, exactly one gets the lock, and nothing else is left beside it', async () => {
    const { won, lost } = await race(24);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(23);
    for (const e of lost) expect(e).toMatchObject({ kind: 'state', code: 'LOCKED' });
    expect(fs.readdirSync(dir)).toEqual([`${ID}.lock`]);
    won[0].release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('makes no synchronous filesystem call', async () => {
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: 'aaaaaaaaaaaaaaaa' }); // a takeover too
    const names = ['openSync', 'readFileSync', 'writeFileSync', 'writeSync', 'fsyncSync', 'closeSync', 'linkSync', 'renameSync', 'rmSync', 'unlinkSync', 'mkdirSync', 'statSync', 'existsSync'] as const;
    const spies = names.map((n) => vi.spyOn(fs, n));
    const lock = await acquireLock(dir, ID);
    for (const [i, spy] of spies.entries()) {
      const inDir = spy.mock.calls.filter((c) => typeof c[0] === 'string' && c[0].startsWith(dir));
      expect(inDir, `fs.${names[i]}`).toEqual([]);
    }
    vi.restoreAllMocks();
    lock.release();
  });

  it.skipIf(process.platform === 'win32')('writes the lock file with mode 0600', async () => {
    const lock = await acquireLock(dir, ID);
    expect(fs.statSync(lock.file).mode & 0o777).toBe(0o600);
    lock.release();
  });

  it('reports a state folder it cannot create as STATE_DIR', async () => {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const e = await rejection(acquireLock(path.join(blocker, 'state'), ID));
    expect(e).toMatchObject({ kind: 'input', code: 'STATE_DIR' });
  });
});

describe('whose lock is live', () => {
  it('never takes the lock of a live process', async () => {
    placeLock({ pid: sleeper.pid, host: os.hostname(), since: 0, nonce: 'bbbbbbbbbbbbbbbb' });
    const e = await rejection(acquireLock(dir, ID));
    expect(e.code).toBe('LOCKED');
    expect(e.message).toContain(`another lakeup (pid ${sleeper.pid})`);
    expect(ownerOf().pid).toBe(sleeper.pid);
  });

  it('never takes the lock of a live process written by an older version (no host, no nonce) within its lease', async () => {
    placeLock({ pid: sleeper.pid });
    ageBy(LEASE_MS / 2);
    expect((await rejection(acquireLock(dir, ID))).code).toBe('LOCKED');
    expect(ownerOf()).toEqual({ pid: sleeper.pid });
  });

  it('takes over a lock nobody renewed for a lease, even if a process has its pid (a reused pid, a holder stalled for that long)', async () => {
    placeLock({ pid: sleeper.pid, host: os.hostname(), since: 0, nonce: 'abababababababab' });
    ageBy(LEASE_MS + 1_000);
    const lock = await acquireLock(dir, ID);
    expect(ownerOf().pid).toBe(process.pid);
    lock.release();
  });

  it('takes over at once a lock from another host that nobody renewed for a lease (a killed CI job, a container gone)', async () => {
    placeLock({ pid: sleeper.pid, host: 'elsewhere.example', since: 0, nonce: 'cccccccccccccccc' });
    ageBy(3_600_000);
    const t0 = Date.now();
    const lock = await acquireLock(dir, ID);
    expect(Date.now() - t0).toBeLessThan(RENEW_MS);
    expect(ownerOf()).toMatchObject({ pid: process.pid, host: os.hostname() });
    lock.release();
  });

  it('watches a fresh lock from another host: renewed, its holder is alive and it is not taken', async () => {
    placeLock({ pid: await deadPid(), host: 'elsewhere.example', since: 0, nonce: 'cdcdcdcdcdcdcdcd' });
    // Its holder renews it after our first look (its pid means nothing here: only the lease counts).
    const fired = afterFirstRead(file, () => fs.utimesSync(file, new Date(), new Date()), 2);
    ageBy(1_000);
    const e = await rejection(acquireLock(dir, ID));
    expect(fired()).toBe(true);
    expect(e.code).toBe('LOCKED');
    expect(e.message).toMatch(/another lakeup \(pid \d+ on elsewhere\.example\) is already uploading this file/);
    expect(ownerOf().host).toBe('elsewhere.example');
  });

  it('waits a fresh lock from another host out when nobody renews it, then takes it over', async () => {
    placeLock({ pid: sleeper.pid, host: 'elsewhere.example', since: 0, nonce: 'cececececececece' });
    ageBy(LEASE_MS - 700); // killed a while ago: the rest of its lease is short to wait
    const said: string[] = [];
    const lock = await acquireLock(dir, ID, (l) => said.push(l));
    expect(ownerOf().pid).toBe(process.pid);
    expect(said).toEqual([`waiting for the lock of another lakeup (pid ${sleeper.pid} on elsewhere.example), not renewed for ${Math.round((LEASE_MS - 700) / 1000)} s: it is free after ${LEASE_MS / 1000} s unless renewed`]);
    lock.release();
  });

  it('takes over a lock whose process is gone', async () => {
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: 'dddddddddddddddd' });
    const lock = await acquireLock(dir, ID);
    expect(ownerOf().pid).toBe(process.pid);
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('takes over a lock holding our own pid that this process did not write (a reused pid)', async () => {
    placeLock({ pid: process.pid, host: os.hostname(), since: 0, nonce: 'eeeeeeeeeeeeeeee' });
    const lock = await acquireLock(dir, ID);
    expect(ownerOf().nonce).not.toBe('eeeeeeeeeeeeeeee');
    lock.release();
  });

  it('waits on an empty lock being written, then names its live owner', async () => {
    fs.writeFileSync(file, '');
    const theirs = { pid: sleeper.pid, host: os.hostname(), since: Date.now(), nonce: '8888888888888888' };
    // Our first reading finds it empty; by the second its writer has filled it.
    const fired = afterFirstRead(file, () => fs.writeFileSync(file, JSON.stringify(theirs)), 2);
    const e = await rejection(acquireLock(dir, ID));
    expect(fired()).toBe(true);
    expect(e.code).toBe('LOCKED');
    expect(e.message).toBe(`another lakeup (pid ${sleeper.pid}) is already uploading this file; wait for it to finish or stop it`);
    expect(ownerOf()).toEqual(theirs);
  });

  it('takes over an empty lock whose writer was killed before writing, once it is old enough (no person needed)', async () => {
    fs.writeFileSync(file, '');
    ageBy(UNREADABLE_STALE_MS - 300); // the kill happened a while ago; waiting out the rest is short
    const lock = await acquireLock(dir, ID);
    expect(ownerOf().pid).toBe(process.pid);
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('takes over an empty or half-written lock file once it is older than the threshold', async () => {
    for (const text of ['', '{"pid":']) {
      fs.writeFileSync(file, text);
      ageBy(UNREADABLE_STALE_MS + 1000);
      const lock = await acquireLock(dir, ID);
      expect(ownerOf().pid).toBe(process.pid);
      lock.release();
    }
  });
});

describe('taking over a stale lock when others try too', () => {
  it('a taker that waited a lease out puts a fresh lock in place, not one that looks lapsed at once', async () => {
    placeLock({ pid: sleeper.pid, host: 'elsewhere.example', since: 0, nonce: 'dededededededede' });
    // While we watch it, a lease goes by (the clock jumps), and nobody renews it.
    vi.useFakeTimers({ toFake: ['Date'] });
    const fired = afterFirstRead(file, () => vi.setSystemTime(Date.now() + LEASE_MS + 1_000));
    const lock = await acquireLock(dir, ID);
    expect(fired()).toBe(true);
    expect(ownerOf().pid).toBe(process.pid);
    expect(Date.now() - fs.statSync(file).mtimeMs, 'age of our new lock').toBeLessThan(RENEW_MS);
    expect(await readLock(dir, ID)).toMatchObject({ live: true, why: 'this-process' });
    vi.useRealTimers();
    lock.release();
  });

  it('of many callers that judge one stale lock at once, exactly one takes it over', async () => {
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: 'ffffffffffffffff' });
    const { won, lost } = await race(24);
    expect(won).toHaveLength(1);
    for (const e of lost) expect(e).toMatchObject({ code: 'LOCKED', message: expect.stringContaining(`pid ${process.pid}`) });
    expect(fs.readdirSync(dir)).toEqual([`${ID}.lock`]);
    won[0].release();
  });

  it('never removes a fresh lock that replaced the stale one after it was read', async () => {
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: '1111111111111111' });
    const fresh = { pid: sleeper.pid, host: os.hostname(), since: Date.now(), nonce: '2222222222222222' };
    // Another process takes the stale lock over right after we read it.
    const fired = afterFirstRead(file, () => placeLock(fresh));
    const e = await rejection(acquireLock(dir, ID));
    expect(fired()).toBe(true);
    expect(e.code).toBe('LOCKED');
    expect(e.message).toContain(`pid ${sleeper.pid}`);
    expect(ownerOf()).toEqual(fresh);
  });

  it('waits for another process that is taking it over, then names that process', async () => {
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: '3333333333333333' });
    const key = (await readSnapshot(file))!.key;
    const theirs = { pid: sleeper.pid, host: os.hostname(), since: Date.now(), nonce: '4444444444444444' };
    placeLock(theirs, claimPath(file, key, 0));
    // Once we have seen their claim, they finish: their lock in place, their claim gone.
    const fired = afterFirstRead(claimPath(file, key, 0), () => {
      placeLock(theirs);
      fs.rmSync(claimPath(file, key, 0));
    });
    const e = await rejection(acquireLock(dir, ID));
    expect(fired()).toBe(true);
    expect(e.message).toContain(`another lakeup (pid ${sleeper.pid})`);
    expect(ownerOf()).toEqual(theirs);
  });

  it('is not blocked by the claim of a taker that died, and clears such claims', async () => {
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: '5555555555555555' });
    const key = (await readSnapshot(file))!.key;
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: '6666666666666666' }, claimPath(file, key, 0));
    const lock = await acquireLock(dir, ID);
    expect(ownerOf().pid).toBe(process.pid);
    expect(fs.readdirSync(dir)).toEqual([`${ID}.lock`]);
    lock.release();
  });

  it('works where hard links do not (FAT, some shares): still one holder, stale locks still taken over', async () => {
    vi.spyOn(fs.promises, 'link').mockRejectedValue(Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' }));
    const first = await race(8);
    expect(first.won).toHaveLength(1);
    first.won[0].release();
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: '7777777777777777' });
    const second = await race(8);
    expect(second.won).toHaveLength(1);
    expect(ownerOf().pid).toBe(process.pid);
    second.won[0].release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('on Windows, where a scanner holds a new file for a moment', () => {
  it('takes over a stale lock although the rename into place is refused with EPERM twice', async () => {
    placeLock({ pid: await deadPid(), host: os.hostname(), since: 0, nonce: '8888888888888888' });
    const real = fs.promises.rename;
    const refusedTo: string[] = [];
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      if (to === file && refusedTo.length < 2) {
        refusedTo.push(String(to));
        throw Object.assign(new Error('EPERM: operation not permitted, rename'), { code: 'EPERM' });
      }
      return real(from, to);
    });
    const lock = await acquireLock(dir, ID);
    expect(refusedTo).toEqual([file, file]);
    expect(ownerOf().pid).toBe(process.pid);
    expect(fs.readdirSync(dir)).toEqual([`${ID}.lock`]); // no claim, no temp file left
    await lock.releaseAsync();
  });
});

describe('release', () => {
  it('removes the lock, and a new lock can then be taken', async () => {
    const lock = await acquireLock(dir, ID);
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
    const again = await acquireLock(dir, ID);
    expect(fs.existsSync(again.file)).toBe(true);
    await again.releaseAsync();
    expect(fs.existsSync(again.file)).toBe(false);
  });

  it('releasing twice does not remove a lock someone else took meanwhile', async () => {
    const first = await acquireLock(dir, ID);
    first.release();
    const second = await acquireLock(dir, ID);
    first.release();
    await first.releaseAsync();
    expect(fs.existsSync(second.file)).toBe(true);
    second.release();
  });

  it('leaves alone a lock that is no longer ours', async () => {
    const lock = await acquireLock(dir, ID);
    const other = { pid: sleeper.pid, host: os.hostname(), since: 0, nonce: '8888888888888888' };
    placeLock(other);
    lock.release();
    expect(ownerOf()).toEqual(other);
  });
});

describe('the lease: held locks are renewed, one that was lost is noticed', () => {
  afterEach(() => vi.useRealTimers());
  const mtimeAgo = (f: string) => Date.now() - fs.statSync(f).mtimeMs;

  it('renews every lock the process holds with one timer', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const locks = [await acquireLock(dir, ID)];
    for (let i = 0; i < 49; i++) locks.push(await acquireLockQuick(dir, `${i}`.padStart(16, 'a')));
    expect(vi.getTimerCount()).toBe(1);
    for (const l of locks) ageBy(LEASE_MS / 2, l.file);
    vi.advanceTimersByTime(RENEW_MS);
    await waitFor('every lock renewed', () => locks.every((l) => mtimeAgo(l.file) < RENEW_MS));
    for (const l of locks) await l.releaseAsync();
    expect(vi.getTimerCount()).toBe(0);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a holder that stalled past its lease finds its lock taken over before it finalizes', async () => {
    const lock = await acquireLock(dir, ID);
    await lock.confirm(); // fresh: ours without looking
    const taker = { pid: sleeper.pid, host: os.hostname(), since: Date.now(), nonce: '9999999999999999' };
    placeLock(taker);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + LEASE_MS + 1_000 });
    const e = await rejection(lock.confirm());
    expect(e).toMatchObject({ kind: 'state', code: 'LOCKED' });
    expect(e.message).toContain('stalled');
    await lock.releaseAsync();
    expect(ownerOf()).toEqual(taker);
  });

  it('a holder that stalled but still has its lock renews it and goes on', async () => {
    const lock = await acquireLock(dir, ID);
    ageBy(LEASE_MS / 2 + 1_000);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + LEASE_MS / 2 + 1_000 });
    await lock.confirm();
    vi.useRealTimers();
    expect(mtimeAgo(lock.file)).toBeLessThan(-LEASE_MS / 4); // touched at the (faked) later time
    await lock.releaseAsync();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('readLock (the rule `lakeup list` and `abort` use)', () => {
  it('tells no lock, a live holder and a stale one apart', async () => {
    expect(await readLock(dir, ID)).toBeUndefined();
    const lock = await acquireLock(dir, ID);
    expect(await readLock(dir, ID)).toMatchObject({ live: true, why: 'this-process', owner: { pid: process.pid } });
    lock.release();
    placeLock({ pid: sleeper.pid, host: os.hostname() });
    expect(await readLock(dir, ID)).toMatchObject({ live: true, why: 'running' });
    placeLock({ pid: await deadPid(), host: os.hostname() });
    expect(await readLock(dir, ID)).toMatchObject({ live: false, why: 'gone' });
    placeLock({ pid: 12345, host: 'elsewhere.example' });
    expect(await readLock(dir, ID)).toMatchObject({ live: true, why: 'other-host' });
  });
});

describe('chores that take a lock do not wait on another host\'s lease', () => {
  it('deleteLeftState leaves a state alone at once while another host\'s lock on it is within its lease', async () => {
    const { deleteLeftState } = await import('../../src/upload/upload-state.js');
    placeLock({ pid: await deadPid(), host: 'elsewhere.example', since: 0, nonce: 'efefefefefefefef' });
    fs.writeFileSync(path.join(dir, `${ID}.json`), '{}');
    const t0 = Date.now();
    await deleteLeftState(dir, ID);
    expect(Date.now() - t0).toBeLessThan(RENEW_MS);
    expect(fs.readdirSync(dir).sort()).toEqual([`${ID}.json`, `${ID}.lock`]);
  });
});
