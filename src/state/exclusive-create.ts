// Creating a file only if nothing has that name yet, with its whole content at once: `link` a fully
// written file to the new name. link fails with EEXIST when the name exists and never replaces
// anything, and the new name shows the complete content from its first instant (no empty window
// as with open('wx') + write).
import fs from 'node:fs';
import { removeFile } from './remove.js';

/** link's answers on filesystems without hard links: FAT/exFAT (EPERM on Linux, EISDIR on Windows), some SMB shares. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EISDIR']);

/**
 * Gives `source`'s content the name `target` unless `target` exists. Returns false when it exists.
 * Without hard links it falls back to open('wx') + write + fsync: still exclusive, but the file is
 * briefly empty — readers treat a young unreadable lock as held (lock-owner.ts).
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
