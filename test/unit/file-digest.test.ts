// A file's SHA-256 (recorded on the MemoryLake items lakeup makes) is the same whether it is read
// on the main thread (small files) or by a hashing thread (bigger ones), and a file that cannot be
// read is one clear input error either way.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Of } from '../../src/upload/file-digest.js';
import { makeFile, tempDir } from '../helpers/files.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('sha256Of', () => {
  it.each([
    ['a small file, on the main thread', 100_000],
    ['a bigger one, by a hashing thread', 3 * 1024 * 1024 + 7],
  ])('%s', async (_what, size) => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = await makeFile(path.join(dir, 'f.bin'), size, 5);
    expect(await sha256Of(file)).toBe(createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
  });

  it('a file that is gone is an input error naming it', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await expect(sha256Of(path.join(dir, 'gone.bin'))).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/gone\.bin: cannot read it \(ENOENT\)/) });
  });
});
