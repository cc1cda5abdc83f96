import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultStateDir, resolveStateDir } from '../../src/state/location.js';

describe('defaultStateDir', () => {
  it('linux: uses $XDG_STATE_HOME/lakeup', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/xdg/state' }, 'linux', '/home/ann')).toBe(path.join('/xdg/state', 'lakeup'));
  });

  it('linux: falls back to ~/.local/state/lakeup', () => {
    expect(defaultStateDir({}, 'linux', '/home/ann')).toBe(path.join('/home/ann', '.local', 'state', 'lakeup'));
  });

  it('linux: ignores a relative XDG_STATE_HOME (the XDG spec says so) and an empty one', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: 'rel/state' }, 'linux', '/home/ann')).toBe(path.join('/home/ann', '.local', 'state', 'lakeup'));
    expect(defaultStateDir({ XDG_STATE_HOME: '' }, 'linux', '/home/ann')).toBe(path.join('/home/ann', '.local', 'state', 'lakeup'));
  });

  it('darwin: ~/Library/Application Support/lakeup/state, whatever XDG says', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/xdg' }, 'darwin', '/Users/ann')).toBe('/Users/ann/Library/Application Support/lakeup/state');
  });

  it('win32: %LOCALAPPDATA%\\lakeup\\state', () => {
    expect(defaultStateDir({ LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local' }, 'win32', 'C:\\Users\\ann')).toBe(
      'C:\\Users\\ann\\AppData\\Local\\lakeup\\state',
    );
  });

  it('win32: falls back to the home AppData\\Local without LOCALAPPDATA', () => {
    expect(defaultStateDir({}, 'win32', 'C:\\Users\\ann')).toBe('C:\\Users\\ann\\AppData\\Local\\lakeup\\state');
  });

  it('win32: ignores XDG_STATE_HOME (a POSIX variable a Git Bash or MSYS shell may export)', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/c/Users/ann/.local/state', LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local' }, 'win32', 'C:\\Users\\ann')).toBe(
      'C:\\Users\\ann\\AppData\\Local\\lakeup\\state',
    );
  });

  it('win32: normalises LOCALAPPDATA written with forward slashes or a trailing separator', () => {
    expect(defaultStateDir({ LOCALAPPDATA: 'C:/Users/ann/AppData/Local/' }, 'win32', 'C:\\Users\\ann')).toBe('C:\\Users\\ann\\AppData\\Local\\lakeup\\state');
  });

  it('win32: keeps a profile on a network share (UNC path), and the result is absolute for Windows', () => {
    const dir = defaultStateDir({ LOCALAPPDATA: '\\\\fileserver\\profiles\\ann\\AppData\\Local' }, 'win32', 'C:\\Users\\ann');
    expect(dir).toBe('\\\\fileserver\\profiles\\ann\\AppData\\Local\\lakeup\\state');
    expect(path.win32.isAbsolute(dir)).toBe(true);
    expect(path.win32.isAbsolute(defaultStateDir({}, 'win32', 'D:\\home\\ann'))).toBe(true);
  });

  it('defaults to this machine when nothing is passed', () => {
    expect(path.isAbsolute(defaultStateDir())).toBe(true);
    expect(defaultStateDir()).toContain('lakeup');
  });
});

describe('resolveStateDir', () => {
  const tmp = os.tmpdir();
  it('prefers the flag, then LAKEUP_STATE_DIR, then the default', () => {
    expect(resolveStateDir(path.join(tmp, 'flag'), { LAKEUP_STATE_DIR: path.join(tmp, 'env') })).toBe(path.join(tmp, 'flag'));
    expect(resolveStateDir(undefined, { LAKEUP_STATE_DIR: path.join(tmp, 'env') })).toBe(path.join(tmp, 'env'));
    expect(resolveStateDir(undefined, { XDG_STATE_HOME: path.join(tmp, 'xdg') })).toBe(defaultStateDir({ XDG_STATE_HOME: path.join(tmp, 'xdg') }));
  });

  it('makes a relative flag absolute', () => {
    expect(resolveStateDir('rel-state', {})).toBe(path.resolve('rel-state'));
  });
});
