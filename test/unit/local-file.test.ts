import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sameFingerprint, samePath } from '../../src/upload/local-file.js';
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
