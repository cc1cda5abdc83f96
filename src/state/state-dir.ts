// The state folder itself: creating it (0700), keeping it private, the one error that says it
// cannot be written, and the shape of the ids its files are named by.
import fs from 'node:fs';
import { LakeupError } from '../errors.js';

/**
 * An upload id or a run key (16 hex digits): what names the files of the state folder. Read back
 * from a file (a state's run, a journal), one is checked before it is joined into a path.
 */
export function isId(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{16}$/.test(v);
}

/**
 * The state folder holds presigned URLs (write credentials) and is trusted when read back, so it
 * must be private. lakeup creates it 0700; an existing one open to others is made 0700 where this
 * user owns it (a sticky folder like /tmp is shared by design, and left as it is). Returns a line
 * saying what was done or what is wrong, or undefined when it is private (or on Windows, where the
 * profile folder's ACL does this, or when it does not exist yet).
 */
export function privateStateDir(dir: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return undefined;
  }
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if ((st.mode & 0o077) === 0) return undefined;
  if (st.uid === process.getuid?.() && (st.mode & 0o1000) === 0) {
    try {
      fs.chmodSync(dir, st.mode & 0o700);
      return `lakeup: the state folder ${dir} was open to other users (mode ${mode}); made it private (0700): it holds upload credentials`;
    } catch {
      /* said below */
    }
  }
  return `lakeup: warning: the state folder ${dir} is open to other users (mode ${mode}) and lakeup cannot make it private: it holds upload credentials; choose a folder of your own with --state-dir or LAKEUP_STATE_DIR`;
}

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
