// The state folder itself: creating it (0700), and the one error that says it cannot be written.
import fs from 'node:fs';
import { LakeupError } from '../errors.js';

export function ensureStateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateDirError(dir, err);
  }
}

export async function ensureStateDirAsync(dir: string): Promise<void> {
  try {
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateDirError(dir, err);
  }
}

export function stateDirError(dir: string, err: unknown): LakeupError {
  if (err instanceof LakeupError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new LakeupError('input', `cannot write resumable state in ${dir} (${code}); choose another folder with --state-dir or LAKEUP_STATE_DIR`, {
    code: 'STATE_DIR',
    cause: err,
  });
}
