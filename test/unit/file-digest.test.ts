// A file's SHA-256 (recorded on the MemoryLake items lakeup makes) is the same whether it is read
// on the main thread (small files) or by a hashing thread (bigger ones), and a file that cannot be
// read is one clear input error either way.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { sha256Of } from '../../src/upload/file-digest.js';
import { makeFile, tempDir } from '../helpers/files.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('sha256Of', () => {
  it.each([
    ['a small file, on the main thread', 100_000],
    ['a file of one read buffer exactly', 64 * 1024],
    ['a file of one byte', 1],
    ['a file of the inline limit exactly', 1024 * 1024],
    ['a bigger one, by a hashing thread', 3 * 1024 * 1024 + 7],
  ])('%s', async (_what, size) => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = await makeFile(path.join(dir, 'f.bin'), size, 5);
    expect(await sha256Of(file)).toBe(createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
  });

  it('hashes at once read each file into a buffer of its own', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const files = await Promise.all([1, 5000, 70_000, 200_000].map((n, i) => makeFile(path.join(dir, `c${i}.bin`), n, i + 1)));
    const hashes = await Promise.all(files.map((f) => sha256Of(f)));
    expect(hashes).toEqual(files.map((f) => createHash('sha256').update(fs.readFileSync(f)).digest('hex')));
  });

  it('with the size of its fingerprint, a small file takes one read, not a second one to find its end; a wrong size changes no hash', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = await makeFile(path.join(dir, 'f.bin'), 5000, 3);
    const want = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const reads = vi.spyOn(fs, 'read');
    try {
      expect(await sha256Of(file, undefined, 5000)).toBe(want);
      expect(reads).toHaveBeenCalledTimes(1);
      reads.mockClear();
      expect(await sha256Of(file)).toBe(want);
      expect(reads).toHaveBeenCalledTimes(2);
      for (const wrong of [4999, 1, 5001, 70_000]) expect(await sha256Of(file, undefined, wrong)).toBe(want);
    } finally {
      reads.mockRestore();
    }
  });

  it('an interrupted hash says interrupted', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = await makeFile(path.join(dir, 'f.bin'), 100, 1);
    await expect(sha256Of(file, AbortSignal.abort())).rejects.toMatchObject({ kind: 'interrupted' });
  });

  it('a file that is gone is an input error naming it', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await expect(sha256Of(path.join(dir, 'gone.bin'))).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/gone\.bin: cannot read it \(ENOENT\)/) });
  });
});
