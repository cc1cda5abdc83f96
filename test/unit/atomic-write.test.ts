import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RENAME_BACKOFF_MS,
  sleepSync,
  writeFileAtomic,
  writeFileAtomicSync,
  type Rename,
  type RenameSync,
} from '../../src/state/atomic-write.js';
import { rejection, thrown } from './helpers.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-atomic-'));
  file = path.join(dir, 'a.json');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const errno = (code: string) => Object.assign(new Error(`${code}: resource busy or locked, rename`), { code });
const tmpFiles = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

/** A rename that fails with `code` the first `times` calls (Infinity: always), then renames. */
function flaky(code: string, times: number) {
  const calls: Array<[string, string]> = [];
  const rename: Rename = async (from, to) => {
    calls.push([from, to]);
    if (calls.length <= times) throw errno(code);
    await fs.promises.rename(from, to);
  };
  const renameSync: RenameSync = (from, to) => {
    calls.push([from, to]);
    if (calls.length <= times) throw errno(code);
    fs.renameSync(from, to);
  };
  return { rename, renameSync, calls };
}

describe('RENAME_BACKOFF_MS', () => {
  it('doubles from 10 ms and adds up to about one second', () => {
    expect(RENAME_BACKOFF_MS.slice(0, 4)).toEqual([10, 20, 40, 80]);
    const total = RENAME_BACKOFF_MS.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(900);
    expect(total).toBeLessThanOrEqual(1100);
  });
});

describe('writeFileAtomic', () => {
  it('writes the content, replacing what was there, with mode 0600 and no temp file left', async () => {
    fs.writeFileSync(file, 'old', { mode: 0o644 });
    await writeFileAtomic(file, '{"new":true}', { mode: 0o600 });
    expect(fs.readFileSync(file, 'utf8')).toBe('{"new":true}');
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['a.json']);
  });

  it('succeeds after 3 EPERMs (a scanner holding the file), waiting 10, 20, 40 ms', async () => {
    const f = flaky('EPERM', 3);
    const waits: number[] = [];
    await writeFileAtomic(file, 'content', { rename: f.rename, wait: async (ms) => void waits.push(ms) });
    expect(fs.readFileSync(file, 'utf8')).toBe('content');
    expect(f.calls).toHaveLength(4);
    expect(new Set(f.calls.map((c) => c[0])).size).toBe(1); // the same temp file each time
    expect(waits).toEqual([10, 20, 40]);
    expect(tmpFiles()).toEqual([]);
  });

  it('gives up after about a second of EBUSY with one STATE_DIR error, the old content intact', async () => {
    fs.writeFileSync(file, 'old');
    const f = flaky('EBUSY', Infinity);
    const waits: number[] = [];
    const e = await rejection(writeFileAtomic(file, 'new', { rename: f.rename, wait: async (ms) => void waits.push(ms) }));
    expect(e).toMatchObject({ kind: 'input', code: 'STATE_DIR' });
    expect(e.message).toBe(`cannot write resumable state in ${dir} (EBUSY); choose another folder with --state-dir or LAKEUP_STATE_DIR`);
    expect(waits).toEqual(RENAME_BACKOFF_MS);
    expect(f.calls).toHaveLength(RENAME_BACKOFF_MS.length + 1);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(tmpFiles()).toEqual([]);
  });

  it('does not retry other errors', async () => {
    const f = flaky('EXDEV', Infinity);
    const e = await rejection(writeFileAtomic(file, 'x', { rename: f.rename, wait: async () => undefined }));
    expect(e.code).toBe('STATE_DIR');
    expect(f.calls).toHaveLength(1);
    expect(tmpFiles()).toEqual([]);
  });

  it('reports a folder that is gone as STATE_DIR and leaves nothing behind', async () => {
    const gone = path.join(dir, 'gone', 'a.json');
    const e = await rejection(writeFileAtomic(gone, 'x'));
    expect(e).toMatchObject({ kind: 'input', code: 'STATE_DIR' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('gives concurrent writers of one file their own temp files: the last rename wins whole', async () => {
    const texts = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(1000 * i) }));
    await Promise.all(texts.map((t) => writeFileAtomic(file, t)));
    expect(texts).toContain(fs.readFileSync(file, 'utf8'));
    expect(tmpFiles()).toEqual([]);
  });
});

describe('writeFileAtomicSync', () => {
  it('succeeds after 3 EPERMs and leaves no temp file', () => {
    const f = flaky('EPERM', 3);
    const waits: number[] = [];
    writeFileAtomicSync(file, 'content', { rename: f.renameSync, wait: (ms) => void waits.push(ms) });
    expect(fs.readFileSync(file, 'utf8')).toBe('content');
    expect(waits).toEqual([10, 20, 40]);
    expect(tmpFiles()).toEqual([]);
  });

  it('gives up on persistent EBUSY with one STATE_DIR error and leaves no temp file', () => {
    const f = flaky('EBUSY', Infinity);
    const e = thrown(() => writeFileAtomicSync(file, 'x', { rename: f.renameSync, wait: () => undefined }));
    expect(e).toMatchObject({ kind: 'input', code: 'STATE_DIR' });
    expect(e.message).toContain('(EBUSY)');
    expect(f.calls).toHaveLength(RENAME_BACKOFF_MS.length + 1);
    expect(tmpFiles()).toEqual([]);
  });

  it('waits between attempts by sleeping, not spinning', () => {
    const f = flaky('EPERM', 3); // 10 + 20 + 40 ms of waiting
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    writeFileAtomicSync(file, 'content', { rename: f.renameSync });
    const elapsed = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    expect(elapsed).toBeGreaterThanOrEqual(65);
    expect((used.user + used.system) / 1000).toBeLessThan(elapsed / 2);
  });
});

describe('sleepSync', () => {
  it('blocks for about the time asked', () => {
    const t0 = performance.now();
    sleepSync(30);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
  });
});

