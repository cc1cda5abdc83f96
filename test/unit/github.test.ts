// GitHub Actions output: the progress mode chosen there, colour off, annotations that a message
// cannot break out of, and the summary's retry count.
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPutPlan } from '../../src/cli/put-plan.js';
import { UploadEvents } from '../../src/events.js';
import { errorAnnotation, GithubTally } from '../../src/ui/github.js';
import { colorLevelFrom } from '../../src/ui/terminal.js';

const env = (over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ LAKEUP_STATE_DIR: path.join(os.tmpdir(), 'lakeup-test-state'), ...over });
const mode = (progress: string | undefined, e: NodeJS.ProcessEnv, tty: boolean) =>
  buildPutPlan(['a.bin'], { provider: 'copera', token: 't', progress }, e, { stderrIsTTY: tty }).progress;

describe('inside GitHub Actions', () => {
  it('reports progress in plain lines at a log pace, even on a terminal or when a bar is asked for', () => {
    const gha = env({ GITHUB_ACTIONS: 'true' });
    expect(mode(undefined, gha, true)).toBe('github');
    expect(mode(undefined, gha, false)).toBe('github');
    expect(mode('bar', gha, true)).toBe('github');
    expect(mode('json', gha, true)).toBe('json');
    expect(mode(undefined, env(), true)).toBe('bar');
    expect(mode(undefined, env({ GITHUB_ACTIONS: 'false' }), true)).toBe('bar');
  });

  it('turns colour off, FORCE_COLOR or not', () => {
    expect(colorLevelFrom({ GITHUB_ACTIONS: 'true', FORCE_COLOR: '3' }, true)).toBe(0);
    expect(colorLevelFrom({ FORCE_COLOR: '3' }, false)).toBe(3);
  });

  it('keeps a reason inside its annotation', () => {
    expect(errorAnnotation('bad\nline 100%', 'x.bin')).toBe('::error title=lakeup::x.bin: bad%0Aline 100%25');
    expect(errorAnnotation('x.bin: no such file', 'x.bin')).toBe('::error title=lakeup::x.bin: no such file');
    expect(errorAnnotation('run stopped')).toBe('::error title=lakeup::run stopped');
  });

  it('counts the part retries of every file it heard', () => {
    const tally = new GithubTally();
    const a = new UploadEvents();
    const b = new UploadEvents();
    tally.listen(a);
    tally.listen(b);
    const retry = { number: 1, attempt: 1, reason: '500', delayMs: 0, lostBytes: 0 };
    a.emit('part:retry', retry);
    b.emit('part:retry', retry);
    b.emit('part:retry', { ...retry, attempt: 2 });
    expect(tally.markdown('1 file: 1 uploaded')).toMatch(/^\| 0 \| 0 B \| [\d.]+s \| 0 B\/s \| 3 \| 0 \| 0 \| 0 \|$/m);
  });
});
