// How a lock file (or a takeover claim, the same content under another name) comes into being: our
// content is written to a file of its own first (`<lock>.new-<nonce>`, the source), then given the
// lock's name exclusively. `link` fails with EEXIST when the name exists and never replaces anything,
// and the new name shows the complete content from its first instant (no empty window as with
// open('wx') + write).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { removeFile } from '../remove.js';
import { ours } from './owner.js';

export function lockPath(dir: string, id: string): string {
  return path.join(dir, `${id}.lock`);
}

/** A fresh lock's nonce and content; `since` is also when its lease starts. */
export function newOwner(): { nonce: string; since: number; content: string } {
  const nonce = randomBytes(8).toString('hex');
  const since = Date.now();
  return { nonce, since, content: JSON.stringify({ pid: process.pid, host: os.hostname(), since, nonce }) };
}

/** Our lock-to-be, fully written at `source`. `kept`: set by the user once the lock is ours to hold. */
export interface Source {
  nonce: string;
  since: number;
  content: string;
  source: string;
  kept?: boolean;
}

/**
 * Writes our lock's content to a source file beside `file` and hands it to `use`; then removes the
 * source (its content is in place under the lock's name, or useless). From before the write until the
 * end, a lock or claim with this nonce is live (owner.ts's `ours`); after, only if `use` set `kept`.
 */
export async function withSource<T>(file: string, use: (own: Source) => Promise<T>): Promise<T> {
  const own: Source = { ...newOwner(), source: '' };
  own.source = `${file}.new-${own.nonce}`;
  ours.add(own.nonce);
  try {
    await writeFileAtomic(own.source, own.content, { mode: 0o600 });
    return await use(own);
  } finally {
    await removeFile(own.source).catch(() => undefined);
    if (!own.kept) ours.delete(own.nonce);
  }
}

/** link's answers on filesystems without hard links: FAT/exFAT (EPERM on Linux, EISDIR on Windows), some SMB shares. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EISDIR']);

/**
 * Gives `source`'s content the name `target` unless `target` exists. Returns false when it exists.
 * Without hard links it falls back to open('wx') + write + fsync: still exclusive, but the file is
 * briefly empty — readers treat a young unreadable lock as held (owner.ts).
 */
export async function createExclusive(source: string, target: string, content: string): Promise<boolean> {
  try {
    await fs.promises.link(source, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw err;
  }
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(target, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(content);
    await fh.sync();
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await removeFile(target); // ours, and useless half-written
    throw err;
  }
  return true;
}
