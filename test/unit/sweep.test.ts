// What a killed lakeup leaves in the state folder is cleared by the next one (found by the
// kill-anywhere soak: temp files and lock leftovers stayed forever); what belongs to a living
// process, another host, or an upload that can still resume, stays.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isTempOfDeadProcess, tempPathFor } from '../../src/state/atomic-write.js';
import { acquireLock, claimPath, LEASE_MS, readSnapshot, RENEW_MS, sweepStateDir } from '../../src/state/lock/index.js';
import { deadPid, useSleeper } from '../helpers/processes.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-sweep-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleeper = useSleeper();

const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';
const owner = (pid: number, host = os.hostname()) => JSON.stringify({ pid, host, since: Date.now(), nonce: `n${pid}` });
const put = (name: string, text = '') => fs.writeFileSync(path.join(dir, name), text);
const names = () => fs.readdirSync(dir).sort();

describe('sweeping the state folder', () => {
  it('temp file names say which host and process wrote them', async () => {
    const name = path.basename(tempPathFor(path.join(dir, `${A}.json`)));
    expect(name).toMatch(new RegExp(`^${A}\\.json\\.${HOST_TAG}-${process.pid}-[0-9a-f]{12}\\.tmp$`));
    expect(isTempOfDeadProcess(name)).toBe(false); // ours
    expect(isTempOfDeadProcess(`${A}.json.${HOST_TAG}-${await deadPid()}-0123456789ab.tmp`)).toBe(true);
    expect(isTempOfDeadProcess(`${A}.json.${HOST_TAG}-${sleeper.pid}-0123456789ab.tmp`)).toBe(false);
    expect(isTempOfDeadProcess(`${A}.json.00000000-${await deadPid()}-0123456789ab.tmp`)).toBe(false); // another host
    expect(isTempOfDeadProcess(`${A}.json.00000000-${sleeper.pid}-0123456789ab.tmp`, LEASE_MS + 1)).toBe(true); // …cut off a lease ago
    expect(isTempOfDeadProcess(`${A}.json`)).toBe(false);
  });

  it("removes a dead process's temp files, lock sources, moot claims and locks that guard nothing", async () => {
    const dead = await deadPid();
    put(`${A}.json.${HOST_TAG}-${dead}-0123456789ab.tmp`, '{"half":');
    put(`${A}.urls.json.${HOST_TAG}-${dead}-0123456789ac.tmp`);
    put(`${A}.lock.new-${'1'.repeat(16)}`, owner(dead));
    put(`${A}.lock.new-${'1'.repeat(16)}.${HOST_TAG}-${dead}-0123456789ad.tmp`, owner(dead));
    put(path.basename(claimPath(path.join(dir, `${B}.lock`), 'deadbeefdeadbeef', 0)), owner(dead)); // no such lock any more
    put(`${C}.lock`, owner(dead)); // no state file beside it
    put(`${C}-run.lock`, owner(dead)); // no journal beside it
    await sweepStateDir(dir);
    expect(names()).toEqual([]);
  });

  // A CI run caught it: 8 lakeups on one file whose dead lock guarded nothing; one's sweep took the
  // lock over to release it, and another stopped with "another lakeup (pid <the sweeper>) is
  // already uploading this file" though the sweeper uploaded nothing.
  it('removes a dead lock that guards nothing without ever putting its own lock in its place', async () => {
    put(`${C}.lock`, owner(await deadPid()));
    const lock = path.join(dir, `${C}.lock`);
    const into: string[] = [];
    const rename = vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      into.push(String(to));
      return fs.renameSync(from, to);
    });
    const link = vi.spyOn(fs.promises, 'link').mockImplementation(async (from, to) => {
      into.push(String(to));
      return fs.linkSync(from, to);
    });
    try {
      await sweepStateDir(dir);
    } finally {
      rename.mockRestore();
      link.mockRestore();
    }
    expect(names()).toEqual([]);
    expect(into.length, 'the sweep claimed the lock before removing it').toBeGreaterThan(0);
    expect(into.filter((t) => t === lock)).toEqual([]);
  });

  it('keeps what a living process, another host or a resumable upload still owns', async () => {
    const dead = await deadPid();
    const kept = [
      `${A}.json.${HOST_TAG}-${sleeper.pid}-0123456789ab.tmp`, // being written
      `${A}.json.00000000-${dead}-0123456789ab.tmp`, // another host's
      `${A}.lock.new-${'2'.repeat(16)}`, // a living process's lock source
      `${B}.json`, // a resumable upload…
      `${B}.lock`, // …and its stale lock: the next upload of it takes it over
      `${C}.lock`, // a living process's lock
      `${C}-run.lock`, // another host's run lock
    ];
    put(kept[0]);
    put(kept[1]);
    put(kept[2], owner(sleeper.pid!));
    put(kept[3], '{}');
    put(kept[4], owner(dead));
    put(kept[5], owner(sleeper.pid!));
    put(kept[6], owner(dead, 'elsewhere.example'));
    await sweepStateDir(dir);
    expect(names()).toEqual([...kept].sort());
  });

  it("removes another host's leftovers once nobody touched them for a lease (its pid means nothing here)", async () => {
    const pid = sleeper.pid!; // alive here, which says nothing about the other host
    put(`${A}.json.00000000-${pid}-0123456789ab.tmp`, '{"half":');
    put(`${A}.lock.new-${'3'.repeat(16)}`, owner(pid, 'elsewhere.example'));
    put(`${C}-run.lock`, owner(pid, 'elsewhere.example')); // no journal beside it
    for (const n of names()) fs.utimesSync(path.join(dir, n), new Date(Date.now() - LEASE_MS - 1_000), new Date(Date.now() - LEASE_MS - 1_000));
    await sweepStateDir(dir);
    expect(names()).toEqual([]);
  });

  it("leaves a URL file alone, without waiting, while another host's lock on it is within its lease", async () => {
    put(`${A}.urls.json`, '{}');
    put(`${A}.lock`, owner(await deadPid(), 'elsewhere.example'));
    const t0 = Date.now();
    await sweepStateDir(dir);
    expect(Date.now() - t0).toBeLessThan(RENEW_MS); // not the ~30 s of watching that lock lapse
    expect(names()).toEqual([`${A}.lock`, `${A}.urls.json`]);
  });

  it('keeps a claim on a lock that is still the one claimed, and removes it once that lock is gone', async () => {
    const dead = await deadPid();
    put(`${A}.lock`, owner(dead));
    put(`${A}.json`, '{}');
    const snap = await readSnapshot(path.join(dir, `${A}.lock`));
    const claim = path.basename(claimPath(path.join(dir, `${A}.lock`), snap!.key, 0));
    put(claim, owner(dead));
    await sweepStateDir(dir);
    expect(names()).toContain(claim); // part of the takeover of that very lock
    // That lock is replaced (a taker whose claim was of a later generation): the claim is moot.
    put(`${A}.lock`, owner(sleeper.pid!));
    await sweepStateDir(dir);
    expect(names()).toEqual([`${A}.json`, `${A}.lock`]);
    // A takeover removes the claims of the dead takers before it, as it always did.
    put(`${A}.lock`, owner(dead));
    const stale = await readSnapshot(path.join(dir, `${A}.lock`));
    put(path.basename(claimPath(path.join(dir, `${A}.lock`), stale!.key, 0)), owner(dead));
    const lock = await acquireLock(dir, A);
    await lock.releaseAsync();
    expect(names()).toEqual([`${A}.json`]);
  });

  it("removes a URL file left without its state (a kill between writing or removing the two), never a living upload's", async () => {
    const dead = await deadPid();
    put(`${A}.urls.json`, '{"uploadId":"u","urls":["https://s3/1?X-Amz-Signature=x"]}'); // no lock: the writer is gone
    put(`${B}.urls.json`, '{}');
    put(`${B}.lock`, owner(dead));
    put(`${C}.urls.json`, '{}'); // a living process between writing the URL file and the state
    put(`${C}.lock`, owner(sleeper.pid!));
    await sweepStateDir(dir);
    expect(names()).toEqual([`${C}.lock`, `${C}.urls.json`]);
  });

  it('is quiet about a folder that does not exist', async () => {
    await expect(sweepStateDir(path.join(dir, 'nope'))).resolves.toBeUndefined();
  });
});
