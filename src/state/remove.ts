// Removing one file that may already be gone. `fs.rm(file, { force: true })` does the same job
// through its recursive machinery: two lstat calls before the unlink. On the path of every small
// file of a run (its lock, its temp files) that was ~0.3 ms of CPU per file in a profile of 300
// files; `unlink` alone is one call.
import fs from 'node:fs';

const gone = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** Removes `file`; a file that is not there is not an error. */
export async function removeFile(file: string): Promise<void> {
  try {
    await fs.promises.unlink(file);
  } catch (err) {
    if (!gone(err)) throw err;
  }
}

/** removeFile for exit paths, where only synchronous calls run. */
export function removeFileSync(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if (!gone(err)) throw err;
  }
}
