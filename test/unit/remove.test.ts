import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeFile, removeFileSync } from '../../src/state/remove.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-remove-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('removeFile', () => {
  it.each([
    ['async', removeFile],
    ['sync', removeFileSync],
  ] as const)('%s: removes a file, is quiet when it is already gone, and says when it cannot', async (_, remove) => {
    const f = path.join(dir, 'a.lock');
    fs.writeFileSync(f, 'x');
    await remove(f);
    expect(fs.existsSync(f)).toBe(false);
    await remove(f); // gone already: fine
    // A folder in its place is not "gone": the caller hears of it.
    fs.mkdirSync(f);
    let err: unknown;
    try {
      await remove(f);
    } catch (e) {
      err = e;
    }
    expect((err as NodeJS.ErrnoException)?.code).toMatch(/^(EISDIR|EPERM|EACCES)$/);
    expect(fs.existsSync(f)).toBe(true);
  });
});
