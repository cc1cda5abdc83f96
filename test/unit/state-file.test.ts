import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  listStates,
  loadState,
  quarantineStateAsync,
  removeState,
  saveState,
  stateId,
  statePath,
  STATE_VERSION,
  validateState,
  type StateFile,
} from '../../src/state/state-file.js';
import { onPlatform } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-state-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ABS = path.resolve('/data/big.zip');
const ID = stateId('copera', 'https://api.copera.ai', ABS, { name: 'big.zip' });

function makeState(over: Partial<StateFile> = {}): StateFile {
  return {
    version: STATE_VERSION,
    id: ID,
    provider: 'copera',
    endpoint: 'https://api.copera.ai',
    dest: { name: 'big.zip' },
    file: { path: ABS, size: 25, mtimeMs: 1700000000000 },
    partSize: 10,
    session: {
      uploadId: 'up-1',
      fileKey: 'k',
      parts: [
        { number: 1, offset: 0, size: 10 },
        { number: 2, offset: 10, size: 10 },
        { number: 3, offset: 20, size: 5 },
      ],
      urls: ['https://s3/1', 'https://s3/2', 'https://s3/3'],
      urlsIssuedAt: 1,
      createdAt: 1,
    },
    done: [{ number: 2, etag: 'bb', size: 10 }],
    createdAt: 1,
    updatedAt: 1,
    ...over,
  };
}

function writeRaw(id: string, json: unknown): string {
  const file = statePath(dir, id);
  fs.writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
  return file;
}

describe('stateId', () => {
  const base = () => stateId('memorylake', 'https://app.memorylake.ai', ABS, { name: 'big.zip' });

  it('is stable: the same upload always has the same 16-hex id', () => {
    expect(base()).toBe(base());
    expect(base()).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each([
    ['provider', () => stateId('copera', 'https://app.memorylake.ai', ABS, { name: 'big.zip' })],
    ['endpoint', () => stateId('memorylake', 'https://app.memorylake.cn', ABS, { name: 'big.zip' })],
    ['path', () => stateId('memorylake', 'https://app.memorylake.ai', path.resolve('/data/other.zip'), { name: 'big.zip' })],
    ['name', () => stateId('memorylake', 'https://app.memorylake.ai', ABS, { name: 'renamed.zip' })],
    ['parent', () => stateId('memorylake', 'https://app.memorylake.ai', ABS, { name: 'big.zip', parent: 'folder-1' })],
  ])('differs by %s', (_n, other) => {
    expect(other()).not.toBe(base());
  });

  it('does not depend on size, mtime, MIME type or conflict strategy', () => {
    expect(stateId('memorylake', 'https://app.memorylake.ai', ABS, { name: 'big.zip', onConflict: 'deny', mimeType: 'x/y' })).toBe(base());
  });

  it('ignores a trailing slash on the endpoint', () => {
    expect(stateId('memorylake', 'https://app.memorylake.ai/', ABS, { name: 'big.zip' })).toBe(base());
  });

  it('win32: a path in another case is the same file, so the same upload (NTFS ignores case)', () => {
    const id = (p: string, name = 'big.zip') => onPlatform('win32', () => stateId('copera', 'https://api.copera.ai', p, { name }));
    expect(id('C:\\Data\\Big.ZIP')).toBe(id('c:\\data\\big.zip'));
    expect(id('\\\\Server\\Share\\A.bin')).toBe(id('\\\\server\\share\\a.bin'));
    expect(id('C:\\Data\\big.zip')).not.toBe(id('C:\\Data\\big.zip.1'));
    // The name in the drive is not a path of this machine: its case is the user's choice.
    expect(id('C:\\Data\\big.zip', 'Big.zip')).not.toBe(id('C:\\Data\\big.zip', 'big.zip'));
  });

  it('linux: paths that differ in case are different files', () => {
    const id = (p: string) => onPlatform('linux', () => stateId('copera', 'https://api.copera.ai', p, { name: 'big.zip' }));
    expect(id('/data/Big.zip')).not.toBe(id('/data/big.zip'));
  });
});

describe('saveState / loadState', () => {
  it('round-trips a state file', () => {
    const s = makeState();
    saveState(dir, s);
    const r = loadState(dir, ID);
    expect(r.status).toBe('ok');
    if (r.status === 'ok') expect(r.state).toEqual(s);
  });

  it('stamps updatedAt on save', () => {
    const s = makeState({ updatedAt: 0 });
    const before = Date.now();
    saveState(dir, s);
    expect(s.updatedAt).toBeGreaterThanOrEqual(before);
  });

  it.skipIf(process.platform === 'win32')('writes the file with mode 0600 (it holds presigned URLs)', () => {
    saveState(dir, makeState());
    expect(fs.statSync(statePath(dir, ID)).mode & 0o777).toBe(0o600);
  });

  it.skipIf(process.platform === 'win32')('keeps mode 0600 when overwriting an existing file', () => {
    saveState(dir, makeState());
    fs.chmodSync(statePath(dir, ID), 0o644);
    saveState(dir, makeState());
    expect(fs.statSync(statePath(dir, ID)).mode & 0o777).toBe(0o600);
  });

  it('writes atomically: no temp file is left beside it', () => {
    saveState(dir, makeState());
    saveState(dir, makeState({ done: [] }));
    expect(fs.readdirSync(dir).sort()).toEqual([`${ID}.json`, `${ID}.urls.json`]);
  });

  it('keeps the URLs out of the per-part write and joins them back on load', () => {
    const s = makeState();
    saveState(dir, s);
    saveState(dir, { ...s, done: [] }, { withUrls: false });
    const main = JSON.parse(fs.readFileSync(path.join(dir, `${ID}.json`), 'utf8'));
    expect(main.session.urls).toBeUndefined();
    const r = loadState(dir, ID);
    expect(r.status === 'ok' && r.state.session.urls).toEqual(s.session.urls);
  });

  it('does not trust URLs that belong to another session', () => {
    saveState(dir, makeState());
    const u = path.join(dir, `${ID}.urls.json`);
    fs.writeFileSync(u, JSON.stringify({ ...JSON.parse(fs.readFileSync(u, 'utf8')), uploadId: 'other' }));
    const r = loadState(dir, ID);
    expect(r).toMatchObject({ status: 'invalid', reason: 'its part URLs belong to another session' });
    fs.rmSync(u);
    expect(loadState(dir, ID)).toMatchObject({ status: 'invalid', reason: 'its part URLs are missing' });
  });

  it('replaces the previous content entirely', () => {
    saveState(dir, makeState());
    saveState(dir, makeState({ done: [{ number: 1, etag: 'aa', size: 10 }] }));
    const r = loadState(dir, ID);
    expect(r.status === 'ok' && r.state.done).toEqual([{ number: 1, etag: 'aa', size: 10 }]);
  });

  it('creates the state folder when it does not exist', () => {
    const nested = path.join(dir, 'a', 'b');
    saveState(nested, makeState());
    expect(loadState(nested, ID).status).toBe('ok');
  });

  it('never writes the token (the state has no place for it)', () => {
    saveState(dir, makeState());
    const text = fs.readFileSync(statePath(dir, ID), 'utf8');
    expect(text).not.toMatch(/token|Bearer/i);
  });

  it('reports a missing state as missing', () => {
    expect(loadState(dir, '0123456789abcdef')).toEqual({ status: 'missing' });
  });
});

describe('loadState rejects what it cannot trust', () => {
  const parts = makeState().session.parts;
  it.each([
    ['invalid JSON', '{"version":1,', 'not valid JSON'],
    ['JSON null', 'null', 'not an object'],
    ['a JSON array', [], 'version'],
    ['a wrong version', { ...makeState(), version: 2 }, 'version 2'],
    ['a foreign id', { ...makeState(), id: 'ffffffffffffffff' }, 'another upload'],
    ['an unknown provider', { ...makeState(), provider: 'dropbox' }, 'provider'],
    ['no file fingerprint', { ...makeState(), file: undefined }, 'fingerprint'],
    ['no destination', { ...makeState(), dest: {} }, 'destination'],
    ['no session', { ...makeState(), session: undefined }, 'session'],
    ['fewer URLs than parts', { ...makeState(), session: { ...makeState().session, urls: ['https://s3/1'] } }, 'URLs'],
    [
      'a layout that does not cover the file',
      { ...makeState(), file: { ...makeState().file, size: 26 } },
      'does not cover the file',
    ],
    [
      'a gap in the layout',
      { ...makeState(), session: { ...makeState().session, parts: [parts[0], { ...parts[1], offset: 11 }, parts[2]] } },
      'inconsistent',
    ],
    ['a done part not in the layout', { ...makeState(), done: [{ number: 4, etag: 'x', size: 5 }] }, 'finished parts'],
    ['a done part with the wrong size', { ...makeState(), done: [{ number: 3, etag: 'x', size: 10 }] }, 'finished parts'],
    ['a done part without an ETag', { ...makeState(), done: [{ number: 1, etag: '', size: 10 }] }, 'finished parts'],
    ['a done part listed twice', { ...makeState(), done: [{ number: 1, etag: 'a', size: 10 }, { number: 1, etag: 'b', size: 10 }] }, 'finished parts'],
    ['a null done entry', { ...makeState(), done: [null] }, 'finished parts'],
    ['no done list', { ...makeState(), done: undefined }, 'finished parts'],
  ])('%s → invalid with a reason', (_n, json, reason) => {
    const file = writeRaw(ID, json);
    const r = loadState(dir, ID);
    expect(r.status).toBe('invalid');
    if (r.status === 'invalid') {
      expect(r.reason).toContain(reason);
      expect(r.file).toBe(file);
    }
  });

  it('validateState accepts a good state', () => {
    expect(validateState(makeState(), ID)).toBeUndefined();
    expect(validateState(makeState())).toBeUndefined();
  });
});

describe('quarantine, remove, list', () => {
  it('quarantineStateAsync moves the file aside and keeps its content', async () => {
    const file = writeRaw(ID, 'garbage');
    const aside = await quarantineStateAsync(file);
    expect(aside).not.toBe(file);
    expect(aside.startsWith(`${file}.invalid-`)).toBe(true);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readFileSync(aside, 'utf8')).toBe('garbage');
    expect(loadState(dir, ID).status).toBe('missing');
  });

  it('removeState deletes the file and is harmless when it is already gone', () => {
    saveState(dir, makeState());
    removeState(dir, ID);
    expect(loadState(dir, ID).status).toBe('missing');
    expect(() => removeState(dir, ID)).not.toThrow();
  });

  it('listStates lists valid and invalid states and ignores other files', () => {
    saveState(dir, makeState());
    const badId = 'aaaaaaaaaaaaaaaa';
    writeRaw(badId, '{');
    fs.writeFileSync(path.join(dir, `${ID}.lock`), '{}');
    fs.writeFileSync(path.join(dir, 'notes.json'), '{}');
    fs.writeFileSync(path.join(dir, `${ID}.json.invalid-1`), '{}');
    const list = listStates(dir);
    expect(list.map((e) => e.id)).toEqual([ID, badId].sort());
    const good = list.find((e) => e.id === ID)!;
    const bad = list.find((e) => e.id === badId)!;
    expect(good.state?.session.uploadId).toBe('up-1');
    expect(good.invalid).toBeUndefined();
    expect(bad.state).toBeUndefined();
    expect(bad.invalid).toContain('JSON');
  });

  it('listStates of a folder that does not exist is empty', () => {
    expect(listStates(path.join(dir, 'nope'))).toEqual([]);
  });
});

describe('StateWriter', () => {
  it('coalesces writes made while one is under way, and flush() waits until all are on disk', async () => {
    const { StateWriter } = await import('../../src/state/state-writer.js');
    const s = makeState({ done: [] });
    saveState(dir, s);
    const w = new StateWriter(dir, s);
    for (const [number, size] of [[1, 10], [2, 10], [3, 5]] as const) {
      s.done.push({ number, etag: `e${number}`, size });
      w.schedule();
    }
    await w.flush();
    const r = loadState(dir, ID);
    expect(r.status === 'ok' && r.state.done.map((d) => d.number)).toEqual([1, 2, 3]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reports a failed write from flush() (the folder went away)', async () => {
    const { StateWriter } = await import('../../src/state/state-writer.js');
    const s = makeState();
    const gone = path.join(dir, 'gone');
    const w = new StateWriter(gone, s);
    w.schedule();
    await expect(w.flush()).rejects.toMatchObject({ kind: 'input', code: 'STATE_DIR' });
    await expect(w.flush()).resolves.toBeUndefined();
  });
});

describe('state writes on Windows, where a scanner holds a file for a moment', () => {
  const busy = (code: string) => Object.assign(new Error(`${code}: operation not permitted, rename`), { code });

  it('saveStateAsync retries a rename refused with EPERM, and leaves no temp file', async () => {
    const { saveStateAsync } = await import('../../src/state/state-file.js');
    const real = fs.promises.rename;
    let refused = 0;
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      if (refused++ < 3) throw busy('EPERM');
      return real(from, to);
    });
    const s = makeState();
    saveState(dir, s);
    s.done = [{ number: 1, etag: 'aa', size: 10 }];
    await saveStateAsync(dir, s);
    expect(refused).toBe(4);
    const r = loadState(dir, ID);
    expect(r.status === 'ok' && r.state.done).toEqual([{ number: 1, etag: 'aa', size: 10 }]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  // A scanner holding the file for a moment (EPERM) must not defeat setting it aside.
  it('quarantineStateAsync sets a state aside although the rename is refused with EPERM once', async () => {
    const file = statePath(dir, ID);
    fs.writeFileSync(file, 'garbage');
    const real = fs.promises.rename;
    let refused = 0;
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      if (refused++ < 1) throw busy('EPERM');
      return real(from, to);
    });
    const aside = await quarantineStateAsync(file);
    expect(aside.startsWith(`${file}.invalid-`)).toBe(true);
    expect(fs.readFileSync(aside, 'utf8')).toBe('garbage');
  });

  it('saveState (synchronous) retries a rename refused with EBUSY, and leaves no temp file', () => {
    const real = fs.renameSync;
    let refused = 0;
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (refused++ < 2) throw busy('EBUSY');
      real(from, to);
    });
    saveState(dir, makeState());
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(loadState(dir, ID).status).toBe('ok');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
