// Checks the local file before anything is sent and takes its fingerprint.
import fs from 'node:fs';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import type { FileFingerprint } from '../types.js';

/**
 * The file's fingerprint, once it is known to be a non-empty regular file that can be read (`checkReadable: false`: not asked yet, see `checkReadable`).
 * `verb`: what -r would do with a folder named instead (`lakeup check` uploads nothing).
 */
export function inspectFile(file: string, opts: { checkReadable?: boolean; verb?: 'upload' | 'check' } = {}): FileFingerprint {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && isLink(abs)) throw new LakeupError('input', `${file}: a symbolic link whose target is missing`);
    throw fileError(file, err);
  }
  checkKind(file, st, opts.verb);
  if (opts.checkReadable !== false) checkReadable(file, abs);
  return fingerprintOf(abs, st);
}

/** Throws the one line to say when the file cannot be read. */
export function checkReadable(file: string, abs = path.resolve(file)): void {
  try {
    fs.accessSync(abs, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LakeupError('input', `${file}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : `cannot open it (${code})`}`);
  }
}

/** `inspectFile` on libuv's threads: for runs of many files, where the event loop must stay free. */
export async function inspectFileAsync(file: string, opts: { checkReadable?: boolean } = {}): Promise<FileFingerprint> {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(abs);
  } catch (err) {
    throw fileError(file, err);
  }
  checkKind(file, st);
  if (opts.checkReadable !== false) {
    try {
      await fs.promises.access(abs, fs.constants.R_OK);
    } catch (err) {
      throw fileError(file, err);
    }
  }
  return fingerprintOf(abs, st);
}

/** What a stat says of the file: size and mtime, which users and tools set, and ctime and inode, which they cannot. */
function fingerprintOf(abs: string, st: fs.Stats): FileFingerprint {
  return { path: abs, size: st.size, mtimeMs: Math.floor(st.mtimeMs), ctimeMs: Math.floor(st.ctimeMs), ino: st.ino };
}

/** A folder, a FIFO, a device or an empty file cannot be sent (an empty one's error says EMPTY: a folder's run skips it). */
function checkKind(file: string, st: fs.Stats, verb: 'upload' | 'check' = 'upload'): void {
  if (st.isDirectory()) throw new LakeupError('input', `${file}: is a directory (use --recursive to ${verb} a folder)`);
  if (!st.isFile()) throw new LakeupError('input', `${file}: ${specialKind(st)}`);
  if (st.size === 0) throw new LakeupError('input', `${file}: the file is empty; neither provider stores empty files`, { code: 'EMPTY' });
}

function isLink(abs: string): boolean {
  try {
    return fs.lstatSync(abs).isSymbolicLink();
  } catch {
    return false;
  }
}

/** What a file that is not a regular file is, for a notice or a refusal. */
export function specialKind(st: Pick<fs.Stats, 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice'>): string {
  if (st.isFIFO()) return 'a FIFO (named pipe), not a regular file';
  if (st.isSocket()) return 'a socket, not a regular file';
  if (st.isCharacterDevice()) return 'a character device, not a regular file';
  if (st.isBlockDevice()) return 'a block device, not a regular file';
  return 'not a regular file';
}

function fileError(file: string, err: unknown): LakeupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new LakeupError('input', `${file}: no such file`);
  if (code === 'EACCES' || code === 'EPERM') return new LakeupError('input', `${file}: permission denied`);
  if (code === 'ELOOP') return new LakeupError('input', `${file}: a symbolic link that leads back to itself`);
  return new LakeupError('input', `${file}: cannot read it (${code ?? (err as Error).message})`);
}

/** Same file path, as the OS compares them: Windows paths ignore case (C:\x and c:\X are one). */
export function samePath(a: string, b: string): boolean {
  return process.platform === 'win32' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** Same path, size and modification time: what a user can see, and keep, when a file is rewritten. */
export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return samePath(a.path, b.path) && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Same ctime and inode (file id), as far as both fingerprints know them: nothing touched the file meanwhile. */
export function sameIdentity(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/**
 * Whether the OS vouches that a file with the same fingerprint (`sameFingerprint`) still has the
 * content it had when `saved` was taken, so that the parts sent then need not be read again.
 * On POSIX, ctime moves whenever the content or the times are written (`touch -r`, `cp -p` and
 * `rsync -t` move it while they put mtime back) and cannot be set by users, and a replaced file
 * (written beside and renamed over) has another inode. Not trusted: a state without them (written
 * by an older lakeup); times in whole seconds (FAT, HFS+, or a reference time of `touch -r`: a
 * coarse clock lets a rewrite land on the very same ctime); Windows, where the change time can be
 * set through the API and FAT volumes keep none. Then the finished parts are read and hashed again.
 */
export function identityVouches(saved: FileFingerprint, now: FileFingerprint): boolean {
  if (process.platform === 'win32' || saved.ctimeMs === undefined || !saved.ino || !sameIdentity(saved, now)) return false;
  return now.mtimeMs % 1000 !== 0 && now.ctimeMs! % 1000 !== 0;
}
