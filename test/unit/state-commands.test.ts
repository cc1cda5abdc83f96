// `lakeup list` and `lakeup abort` decide what is live with the lock module's rule; every command of the state folder
// clears what a killed lakeup left there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runAbort, runList, runResume } from '../../src/cli/state-commands.js';
import { RunJournal } from '../../src/state/journal.js';
import { LEASE_MS } from '../../src/state/lock/index.js';
import { saveState, stateId, statePath, type StateFile } from '../../src/state/state-file.js';
import { deadPid, useSleeper } from '../helpers/processes.js';

let dir: string;
let out: string[];
let err: string[];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-cmds-'));
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleeper = useSleeper();

const ABS = path.resolve('/data/big.zip');
const ID = stateId('memorylake', 'https://app.memorylake.ai', ABS, { name: 'big.zip' });
const env = () => ({ LAKEUP_STATE_DIR: dir, NO_COLOR: '1' });

function pending(run?: StateFile['run']): void {
  const state: StateFile = {
    run,
    version: 1,
    id: ID,
    provider: 'memorylake',
    endpoint: 'https://app.memorylake.ai',
    dest: { name: 'big.zip' },
    file: { path: ABS, size: 20, mtimeMs: 1 },
    session: { uploadId: 'u', parts: [{ number: 1, offset: 0, size: 20 }], urls: ['https://s3/1'], urlsIssuedAt: 1, createdAt: 1 },
    done: [],
    createdAt: 1,
    updatedAt: 1,
  };
  saveState(dir, state);
}

const lockOf = (pid: number) => fs.writeFileSync(path.join(dir, `${ID}.lock`), JSON.stringify({ pid, host: os.hostname(), since: 0, nonce: 'abcdabcdabcdabcd' }));

describe('lakeup list', () => {
  it('marks an upload a live lakeup is sending, and not one whose lock is stale', async () => {
    pending();
    lockOf(sleeper.pid!);
    expect(await runList({ json: true }, env())).toBe(0);
    expect(JSON.parse(out.join('')).uploads[0]).toMatchObject({ id: ID, sending: { pid: sleeper.pid } });
    out = [];
    expect(await runList({}, env())).toBe(0);
    expect(out.join('')).toContain(`(being sent now by pid ${sleeper.pid})`);
    out = [];
    lockOf(await deadPid());
    await runList({ json: true }, env());
    expect(JSON.parse(out.join('')).uploads[0].sending).toBeUndefined();
  });
});

describe('lakeup list (for people)', () => {
  it('puts a header over its columns, each column under its name', async () => {
    pending();
    expect(await runList({}, env())).toBe(0);
    const [header, row, ...rest] = out.join('').trimEnd().split('\n');
    expect(rest).toEqual([]);
    expect(header).toMatch(/^UPLOAD +PROVIDER +DONE +BYTES +UPDATED +FILE$/);
    for (const [name, value] of [['PROVIDER', 'memorylake'], ['DONE', '0.0%'], ['BYTES', '0 B/20 B'], ['FILE', ABS]]) {
      expect(row.indexOf(value), `${name} in:\n${header}\n${row}`).toBe(header.indexOf(name));
    }
  });
});

describe('lakeup abort', () => {
  it('refuses to forget an upload a live lakeup is sending', async () => {
    pending();
    lockOf(sleeper.pid!);
    expect(await runAbort(ID, {}, env())).toBe(1);
    expect(err.join('')).toContain(`cannot forget upload ${ID}: another lakeup (pid ${sleeper.pid}) is already uploading this file`);
    expect(fs.existsSync(statePath(dir, ID))).toBe(true);
  });

  it("forgets an upload whose lock another host left, once its lease lapses, saying why it waits", async () => {
    pending();
    const lock = path.join(dir, `${ID}.lock`);
    fs.writeFileSync(lock, JSON.stringify({ pid: sleeper.pid, host: 'ci-runner-7', since: 0, nonce: 'abcdabcdabcdabce' }));
    const killedAgo = new Date(Date.now() - LEASE_MS + 700); // killed a while ago: the rest of its lease is short
    fs.utimesSync(lock, killedAgo, killedAgo);
    expect(await runAbort(ID, { json: true }, env())).toBe(0);
    expect(err.join('')).toMatch(new RegExp(`^lakeup: waiting for the lock of another lakeup \\(pid ${sleeper.pid} on ci-runner-7\\), not renewed for \\d+ s`));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('forgets an upload whose lock is stale, lock included', async () => {
    pending();
    lockOf(await deadPid());
    expect(await runAbort(ID, { json: true }, env())).toBe(0);
    expect(JSON.parse(out.join(''))).toEqual({ ok: true, aborted: [ID] });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("refuses to forget a run while a live lakeup sends one of its files (its state stays)", async () => {
    const journal = RunJournal.create(dir, { provider: 'memorylake', endpoint: 'https://app.memorylake.ai', parent: undefined, sources: ['/data'] });
    await journal.addFolder(['data'], 'folder-1');
    await journal.close();
    pending({ key: journal.key, to: 'data/big.zip' });
    lockOf(sleeper.pid!); // e.g. `lakeup resume <id>` of that file, running now
    expect(await runAbort(journal.key, {}, env())).toBe(1);
    expect(err.join('')).toContain(`cannot forget run ${journal.key}: another lakeup (pid ${sleeper.pid}) is already uploading`);
    expect(fs.existsSync(statePath(dir, ID))).toBe(true);
    expect(fs.existsSync(journal.file)).toBe(true);
  });
});

describe('what a killed lakeup left, cleared by every command of the state folder', () => {
  // A run killed after its last step (its journal removed, its run lock not yet released) leaves only a dead run lock
  // (CI's 20-round soak, seed 1277919922, round 9): nothing is left to resume, so the next command may be any of these.
  it.each([
    ['list', () => runList({ json: true }, env())],
    ['resume --all', () => runResume(undefined, { all: true, json: true }, env())],
    ['abort --all', () => runAbort(undefined, { all: true, json: true }, env())],
  ])('lakeup %s removes the dead run lock, and the folder ends empty', async (_name, command) => {
    const dead = await deadPid();
    fs.writeFileSync(path.join(dir, 'cccccccccccccccc-run.lock'), JSON.stringify({ pid: dead, host: os.hostname(), since: 0, nonce: 'cdcdcdcdcdcdcdcd' }));
    expect(await command()).toBe(0);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("leaves a living lakeup's run lock alone", async () => {
    const live = path.join(dir, 'cccccccccccccccc-run.lock');
    fs.writeFileSync(live, JSON.stringify({ pid: sleeper.pid, host: os.hostname(), since: 0, nonce: 'cdcdcdcdcdcdcdcd' }));
    expect(await runList({ json: true }, env())).toBe(0);
    expect(fs.existsSync(live)).toBe(true);
  });
});
