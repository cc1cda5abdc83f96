// Checks the local file before anything is sent and takes its fingerprint.
import fs from 'node:fs';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import type { FileFingerprint } from '../types.js';

export function inspectFile(file: string): FileFingerprint {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LakeupError('input', `${file}: no such file`);
    if (code === 'EACCES' || code === 'EPERM') throw new LakeupError('input', `${file}: permission denied`);
    throw new LakeupError('input', `${file}: cannot read it (${code ?? (err as Error).message})`);
  }
  if (st.isDirectory()) throw new LakeupError('input', `${file}: is a directory (use --recursive to upload a folder)`);
  if (!st.isFile()) throw new LakeupError('input', `${file}: not a regular file`);
  if (st.size === 0) throw new LakeupError('input', `${file}: the file is empty; neither provider stores empty files`);
  try {
    fs.accessSync(abs, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LakeupError('input', `${file}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : `cannot open it (${code})`}`);
  }
  return { path: abs, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
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
  if (st.isDirectory()) throw new LakeupError('input', `${file}: is a directory (use --recursive to upload a folder)`);
  if (!st.isFile()) throw new LakeupError('input', `${file}: not a regular file`);
  if (st.size === 0) throw new LakeupError('input', `${file}: the file is empty; neither provider stores empty files`);
  if (opts.checkReadable !== false) {
    try {
      await fs.promises.access(abs, fs.constants.R_OK);
    } catch (err) {
      throw fileError(file, err);
    }
  }
  return { path: abs, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}

function fileError(file: string, err: unknown): LakeupError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new LakeupError('input', `${file}: no such file`);
  if (code === 'EACCES' || code === 'EPERM') return new LakeupError('input', `${file}: permission denied`);
  return new LakeupError('input', `${file}: cannot read it (${code ?? (err as Error).message})`);
}

/** Same file path, as the OS compares them: Windows paths ignore case (C:\x and c:\X are one). */
export function samePath(a: string, b: string): boolean {
  return process.platform === 'win32' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return samePath(a.path, b.path) && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
