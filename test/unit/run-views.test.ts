// Views of a run of many files: the bar shows one overall line and a few file bars, never hundreds;
// plain lines report the totals periodically; finished files are let go (memory stays flat).
import { Writable } from 'node:stream';
import { Chalk } from 'chalk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UploadEvents } from '../../src/events.js';
import { BarView, MAX_FILE_BARS } from '../../src/ui/bar-view.js';
import { createProgressView } from '../../src/ui/progress.js';
import { RunProgress } from '../../src/ui/run-progress.js';
import type { Terminal } from '../../src/ui/terminal.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A terminal whose stderr is a fake TTY that keeps what was drawn. */
function fakeTerminal(): Terminal & { errLines: string[]; drawn: () => string } {
  let drawn = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        drawn += chunk.toString();
        cb();
      },
    }),
    { isTTY: true, columns: 120, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true },
  );
  const errLines: string[] = [];
  return {
    stdoutIsTTY: false,
    stderrIsTTY: true,
    sameOutput: false,
    columns: 120,
    colorLevel: 0,
    chalk: new Chalk({ level: 0 }),
    err: (l) => void errLines.push(l),
    out: () => undefined,
    rawOut: () => undefined,
    rawErr: () => undefined,
    barStream: stream as unknown as NodeJS.WritableStream,
    githubActions: false,
    errLines,
    drawn: () => drawn,
  };
}

const MiB = 1024 * 1024;

describe('the bar for a run', () => {
  it('has one overall bar and at most a few file bars, whatever the number of files in flight', () => {
    const term = fakeTerminal();
    const view = new BarView(term);
    const run = new RunProgress(300, 300 * 20 * MiB);
    view.showRun(run);
    const bars = () => (view as unknown as { multi: { bars: unknown[] } }).multi.bars.length;
    const trackers = [];
    for (let i = 0; i < 300; i++) {
      const ev = new UploadEvents();
      const t = view.track(`f${i}`, ev);
      run.start(t);
      // Every other file is big enough for a bar of its own.
      ev.emit('session:ready', { uploadId: `u${i}`, parts: 2, total: i % 2 ? 20 * MiB : 4096, doneBytes: 0, resumed: false });
      trackers.push({ t, ev });
      expect(bars()).toBeLessThanOrEqual(1 + MAX_FILE_BARS);
    }
    expect(bars()).toBe(1 + MAX_FILE_BARS);
    // Files end: their bars go; the overall bar stays.
    for (const { t, ev } of trackers) {
      ev.emit('upload:done', { ok: true, provider: 'memorylake', file: t.label, name: t.label, id: 'x', size: 1, parts: 1, elapsedMs: 1, bytesPerSecond: 1, resumed: false });
      run.end(t, t.total, 'uploaded');
      view.untrack(t);
    }
    expect(bars()).toBe(1);
    view.stop();
    expect(term.drawn()).toMatch(/300\/300 files/);
  });

  it('a single file keeps its own bar (no overall line)', () => {
    const term = fakeTerminal();
    const view = new BarView(term);
    const ev = new UploadEvents();
    view.track('big.zip', ev);
    ev.emit('session:ready', { uploadId: 'u', parts: 2, total: 1024, doneBytes: 0, resumed: false });
    expect((view as unknown as { multi: { bars: unknown[] } }).multi.bars.length).toBe(1);
    view.stop();
    expect(term.drawn()).toMatch(/big\.zip/);
  });
});

describe('plain lines for a run', () => {
  it('prints the run totals every interval and lets finished files go', async () => {
    vi.useFakeTimers();
    const term = fakeTerminal();
    const view = await createProgressView('plain', term, { intervalMs: 1000 });
    const run = new RunProgress(3, 300);
    view.showRun(run);
    const trackers = [0, 1, 2].map((i) => {
      const ev = new UploadEvents();
      const t = view.track(`f${i}`, ev);
      run.start(t);
      ev.emit('session:ready', { uploadId: `u${i}`, parts: 1, total: 100, doneBytes: 0, resumed: false });
      return { t, ev };
    });
    trackers[0].ev.emit('upload:done', { ok: true, provider: 'memorylake', file: 'f0', name: 'f0', id: 'x', size: 100, parts: 1, elapsedMs: 1, bytesPerSecond: 1, resumed: false });
    run.end(trackers[0].t, 100, 'uploaded');
    view.untrack(trackers[0].t);
    vi.advanceTimersByTime(1000);
    view.stop();
    expect(term.errLines).toContain('lakeup: f0: done, 100 B in 0.0s (1 B/s)');
    expect(term.errLines.some((l) => /^lakeup: 1\/3 files, 100 B\/300 B, /.test(l))).toBe(true);
    // The finished file no longer gets progress lines; the two in flight do.
    expect(term.errLines.filter((l) => /^lakeup: f0: \d/.test(l))).toHaveLength(0);
    expect((view as unknown as { trackers: Set<unknown> }).trackers.size).toBe(2);
  });
});

describe('run totals', () => {
  it('a file cut off by Ctrl-C counts as far as it got, not as whole (the bar said 100% after an interrupt)', async () => {
    const view = await createProgressView('none', fakeTerminal(), {});
    const run = new RunProgress(2, 200);
    const ev = new UploadEvents();
    const t = view.track('f0', ev);
    run.start(t);
    ev.emit('session:ready', { uploadId: 'u0', parts: 1, total: 100, doneBytes: 0, resumed: false });
    ev.emit('part:progress', { number: 1, bytes: 40 });
    run.end(t, 100, 'interrupted');
    run.end(undefined, 100, 'failed');
    expect(run.bytesDone()).toBe(40); // the failed file's bytes are not done (run-progress.test.ts)
    expect(run.filesEnded).toBe(1);
  });
});

