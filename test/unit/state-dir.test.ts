// Shared machines: the state folder holds presigned URLs and is trusted when read back, so it must
// be private, and what is read back from it is checked before it names a file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordDoneInRun } from '../../src/state/journal.js';
import { isId, privateStateDir } from '../../src/state/state-dir.js';
import { STATE_VERSION, stateId, validateState, type StateFile } from '../../src/state/state-file.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-statedir-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const modeOf = (d: string) => fs.statSync(d).mode & 0o7777;

describe.skipIf(process.platform === 'win32')('an existing state folder open to other users', () => {
  it('is made private (0700) where this user owns it, and says so', () => {
    const dir = path.join(root, 'state');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o755);
    expect(privateStateDir(dir)).toBe(`lakeup: the state folder ${dir} was open to other users (mode 0755); made it private (0700): it holds upload credentials`);
    expect(modeOf(dir)).toBe(0o700);
    expect(privateStateDir(dir)).toBeUndefined(); // private now: nothing more to say
  });

  it('a shared sticky folder (like /tmp) is left as it is, with a warning', () => {
    const dir = path.join(root, 'shared');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o1777);
    expect(privateStateDir(dir)).toMatch(/^lakeup: warning: the state folder .* is open to other users \(mode 1777\) and lakeup cannot make it private: .*--state-dir/);
    expect(modeOf(dir)).toBe(0o1777);
  });

  it('says nothing of a private folder, or of one that does not exist yet', () => {
    const dir = path.join(root, 'private');
    fs.mkdirSync(dir, { mode: 0o700 });
    expect(privateStateDir(dir)).toBeUndefined();
    expect(privateStateDir(path.join(root, 'not-yet'))).toBeUndefined();
  });
});

describe('ids read back from the state folder', () => {
  const id = stateId('memorylake', 'https://api.memorylake.ai', '/data/a.bin', { name: 'a.bin' });
  const state = (over: Partial<StateFile>): StateFile => ({
    version: STATE_VERSION,
    id,
    provider: 'memorylake',
    endpoint: 'https://api.memorylake.ai',
    file: { path: '/data/a.bin', size: 1, mtimeMs: 1 },
    dest: { name: 'a.bin' },
    session: { uploadId: 'u', fileKey: 'k', parts: [{ number: 1, offset: 0, size: 1 }], urls: ['https://s3.example/u?p=1'], urlsIssuedAt: 0, urlTtlMs: 1 },
    done: [],
    createdAt: 0,
    updatedAt: 0,
    ...over,
  }) as StateFile;

  it('a state whose run key is not an id (a path) is not valid', () => {
    expect(isId('0123456789abcdef')).toBe(true);
    expect(validateState(state({ run: { key: '0123456789abcdef', to: 'a.bin' } }))).toBeUndefined();
    expect(validateState(state({ run: { key: '../../home/u/.bashrc', to: 'a.bin' } }))).toBe('the run it names is not valid');
    expect(validateState(state({ id: '../x' }))).toBe('it belongs to another upload');
  });

  it('recordDoneInRun never appends to a file outside the state folder named by a crafted key', async () => {
    const dir = path.join(root, 'state');
    fs.mkdirSync(dir);
    const outside = path.join(root, 'victim.run.ndjson');
    fs.writeFileSync(outside, 'precious\n');
    await recordDoneInRun(dir, '../victim', { file: '/data/a.bin', to: 'a.bin' }, { size: 1, mtimeMs: 1, id: 'i', name: 'a.bin' });
    expect(fs.readFileSync(outside, 'utf8')).toBe('precious\n');
  });
});
