// What a state folder that cannot be written means for a run: it stops (no new file, the parts in
// flight too), every file cut off by it has no line of its own, and the run's one line names the
// folder, the cause and what to do.
import { describe, expect, it } from 'vitest';
import { LakeupError } from '../../src/errors.js';
import { stateDirError } from '../../src/state/state-dir.js';
import { RunFailures } from '../../src/upload/run-failures.js';

const errno = (code: string) => Object.assign(new Error(`${code}: failed, write`), { code });

describe('RunFailures and a state folder that cannot be written', () => {
  it('stops the run and its parts in flight; the files cut off have no line; one line says it all (exit 2)', () => {
    const interrupt = new AbortController();
    const f = new RunFailures(interrupt.signal, true, undefined, '/s');
    expect(f.signal.aborted || f.abortNow.aborted).toBe(false);
    expect(f.judge(stateDirError('/s', errno('ENOSPC')))).toBe('stopped');
    expect(f.signal.aborted).toBe(true);
    expect(f.abortNow.aborted).toBe(true);
    expect(interrupt.signal.aborted).toBe(false);
    // The files in flight end interrupted, or meet the full disk too: neither is a line of its own.
    expect(f.judge(f.signal.reason)).toBe('stopped');
    expect(f.judge(new LakeupError('input', 'cannot write the run journal /s/k.run.ndjson (ENOSPC)', { code: 'STATE_DIR', cause: errno('ENOSPC') }))).toBe('stopped');
    // Another failure keeps its own line.
    expect(f.judge(new LakeupError('server', 'HTTP 500'))).toBe('failed');
    const line = f.stoppedLine(60, 34)!;
    expect(line.message).toBe('cannot write to the state folder /s (no space left on device): stopped; 34 of 60 files not sent — free space and run the same command again');
    expect(line.exitCode).toBe(2);
  });

  it('a single file, a read-only folder: the upload stopped, make it writable', () => {
    const f = new RunFailures(new AbortController().signal, false, undefined, '/ro');
    expect(f.judge(stateDirError('/ro', errno('EROFS')))).toBe('stopped');
    expect(f.stoppedLine(1, 1)!.message).toBe('cannot write to the state folder /ro (read-only file system): the upload stopped — make it writable and run the same command again');
  });

  it('nothing left unsent (the last file could not forget its state): no line', () => {
    const f = new RunFailures(new AbortController().signal, true, undefined, '/s');
    expect(f.stateUnwritable(stateDirError('/s', errno('EROFS')))).toBe(true);
    expect(f.stoppedLine(3, 0)).toBeUndefined();
  });

  it('any other failure does not stop the run', () => {
    const f = new RunFailures(new AbortController().signal, true, undefined, '/s');
    expect(f.stateUnwritable(new LakeupError('input', 'x: not found'))).toBe(false);
    expect(f.judge(new LakeupError('server', 'HTTP 500'))).toBe('failed');
    expect(f.signal.aborted || f.abortNow.aborted).toBe(false);
    expect(f.stoppedLine(3, 3)).toBeUndefined();
  });

  it('a second Ctrl-C still stops the parts in flight', () => {
    const now = new AbortController();
    const f = new RunFailures(new AbortController().signal, true, now.signal, '/s');
    now.abort();
    expect(f.abortNow.aborted).toBe(true);
    expect(f.signal.aborted).toBe(false);
  });

  it('a refused token: the parts in flight go on for the grace time, then stop', async () => {
    const f = new RunFailures(new AbortController().signal, true, undefined, '/s', 20);
    expect(f.judge(new LakeupError('auth', 'HTTP 401'))).toBe('stopped');
    expect(f.signal.aborted).toBe(true);
    expect(f.abortNow.aborted).toBe(false);
    await new Promise<void>((resolve) => f.abortNow.addEventListener('abort', () => resolve(), { once: true }));
    expect(f.abortNow.reason).toMatchObject({ kind: 'interrupted', code: 'RUN_STOPPED' });
  });
});
