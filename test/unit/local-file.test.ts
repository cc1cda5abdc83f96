import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { identityVouches, sameFingerprint, samePath } from '../../src/upload/local-file.js';
import { onPlatform } from './helpers.js';

describe('samePath / sameFingerprint: whether a saved state is about this file', () => {
  it('win32: paths that differ only in case are one file (a state saved as C:\\Data\\a.bin resumes for c:\\data\\A.BIN)', () => {
    onPlatform('win32', () => {
      expect(samePath('C:\\Data\\a.bin', 'c:\\data\\A.BIN')).toBe(true);
      expect(samePath('C:\\Data\\a.bin', 'C:\\Data\\b.bin')).toBe(false);
      const fp = { path: 'C:\\Data\\a.bin', size: 10, mtimeMs: 5 };
      expect(sameFingerprint(fp, { ...fp, path: 'c:\\DATA\\a.bin' })).toBe(true);
      expect(sameFingerprint(fp, { ...fp, path: 'c:\\DATA\\a.bin', size: 11 })).toBe(false);
      expect(sameFingerprint(fp, { ...fp, mtimeMs: 6 })).toBe(false);
    });
  });

  it('linux: case matters', () => {
    onPlatform('linux', () => {
      expect(samePath('/data/a.bin', '/data/A.bin')).toBe(false);
      const fp = { path: path.posix.resolve('/data/a.bin'), size: 10, mtimeMs: 5 };
      expect(sameFingerprint(fp, { ...fp })).toBe(true);
      expect(sameFingerprint(fp, { ...fp, path: '/data/A.bin' })).toBe(false);
    });
  });
});

describe('identityVouches: whether ctime and inode spare reading the parts sent before', () => {
  const saved = { path: '/data/a.bin', size: 10, mtimeMs: 1_700_000_000_123, ctimeMs: 1_700_000_000_456, ino: 42 };
  it('linux: the same ctime and inode, in fine-grained times, vouch', () => {
    onPlatform('linux', () => {
      expect(identityVouches(saved, { ...saved })).toBe(true);
      expect(identityVouches(saved, { ...saved, ctimeMs: saved.ctimeMs + 1 })).toBe(false); // touch -r, cp -p, a chmod
      expect(identityVouches(saved, { ...saved, ino: 43 })).toBe(false); // replaced by a rename
    });
  });
  it('linux: a state without them (an older lakeup), or whole-second times (FAT, HFS+), do not', () => {
    onPlatform('linux', () => {
      const { ctimeMs: _c, ino: _i, ...old } = saved;
      expect(identityVouches(old, saved)).toBe(false);
      const coarse = { ...saved, mtimeMs: 1_700_000_000_000, ctimeMs: 1_700_000_002_000 };
      expect(identityVouches(coarse, coarse)).toBe(false);
      expect(identityVouches({ ...saved, ctimeMs: 1_700_000_002_000 }, { ...saved, ctimeMs: 1_700_000_002_000 })).toBe(false);
    });
  });
  it('win32: never (the change time can be set, FAT keeps none): the parts are read', () => {
    onPlatform('win32', () => expect(identityVouches(saved, { ...saved })).toBe(false));
  });
});
