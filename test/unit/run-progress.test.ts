// The run's progress arithmetic: a file costs bytes and a few API calls, so a run of many small files
// is not "96%, ETA 0s" once its one big file is sent; a file being finalized is said to be.
import { describe, expect, it } from 'vitest';
import { UploadEvents } from '../../src/events.js';
import { RunProgress } from '../../src/ui/run-progress.js';
import { ProgressTracker } from '../../src/ui/tracker.js';

const MiB = 1024 * 1024;

/** A file of the run in flight, `sent` of its `total` bytes sent. */
function inFlight(run: RunProgress, total: number, sent: number) {
  const events = new UploadEvents();
  const t = new ProgressTracker('f', events);
  run.start(t);
  events.emit('session:ready', { uploadId: 'u', parts: 1, total, doneBytes: 0, resumed: false });
  if (sent) events.emit('part:progress', { number: 1, bytes: sent });
  return { t, events };
}

describe('RunProgress', () => {
  it('a run of one big file and 504 small ones: once the big one is sent, the files left set the share done and the ETA', () => {
    const small = 10;
    const run = new RunProgress(505, 95 * MiB + 504 * small);
    run.sample(0);
    const big = inFlight(run, 95 * MiB, 95 * MiB);
    run.end(big.t, 95 * MiB, 'uploaded', 500);
    // 10 small files end within the first second: the run ends files at ~11 a second.
    for (let i = 0; i < 10; i++) run.end(inFlight(run, small, small).t, small, 'uploaded', 550 + i * 50);
    run.sample(1000);
    expect(run.bytesDone() / run.bytesTotal).toBeGreaterThan(0.99); // what the bar used to say
    expect(run.fraction()).toBeCloseTo(11 / 505, 5);
    // 494 files left at 11 files in 1 s (the pace over the window): ~45 s, not 0 s.
    expect(run.etaMs()).toBeGreaterThan(40_000);
    expect(run.etaMs()).toBeLessThan(50_000);
  });

  it('a run of a few big files in flight: bytes set the ETA, and files count by the share they sent', () => {
    const run = new RunProgress(4, 4 * 100 * MiB);
    run.sample(0);
    const files = [0, 1, 2, 3].map(() => inFlight(run, 100 * MiB, 0));
    for (const f of files) f.events.emit('part:progress', { number: 1, bytes: 50 * MiB });
    run.sample(2000);
    // 200 MiB in 2 s, 200 MiB left: 2 s. No file has ended, so their pace is unknown, not zero.
    expect(run.etaMs()).toBeCloseTo(2000, -1);
    expect(run.fraction()).toBeCloseTo(0.5, 5);
  });

  it('small files first, then a big one: the bytes left weigh', () => {
    const run = new RunProgress(101, 100 * 1000 + 100 * MiB);
    run.sample(0);
    for (let i = 0; i < 100; i++) run.end(inFlight(run, 1000, 1000).t, 1000, 'uploaded', 10 + i * 10);
    const big = inFlight(run, 100 * MiB, 10 * MiB);
    run.sample(1000);
    expect(run.fraction()).toBeCloseTo((100 * 1000 + 10 * MiB) / (100 * 1000 + 100 * MiB), 5);
    // The one file left is a tenth sent: the files' pace says ~10 ms, its 90 MiB at ~10 MiB/s say ~9 s.
    expect(run.etaMs()).toBeGreaterThan(8000);
    void big;
  });

  it('files cut off by Ctrl-C keep the share they had: the last frame does not fall back (was 0% with 8 of 80 MiB sent)', () => {
    const run = new RunProgress(2, 2 * 40 * MiB);
    run.sample(0);
    const files = [0, 1].map(() => inFlight(run, 40 * MiB, 4 * MiB));
    const before = run.fraction();
    expect(before).toBeCloseTo(0.1, 5);
    for (const f of files) run.end(f.t, 40 * MiB, 'interrupted', 100);
    expect(run.fraction()).toBeCloseTo(before, 5);
    expect(run.filesEnded).toBe(0); // neither done nor failed
  });

  it('failed files are not done: a run whose every file failed ends at 0%, 0 B done, nothing left to wait for (said 100%, 300 B/300 B)', () => {
    const run = new RunProgress(3, 300);
    run.sample(0);
    for (let i = 0; i < 3; i++) run.end(inFlight(run, 100, 0).t, 100, 'failed', 10 * i);
    expect(run.bytesDone()).toBe(0);
    expect(run.fraction()).toBe(0);
    expect(run.etaMs()).toBe(0);
    expect(run.filesLabel()).toBe('0/3 files, 3 failed');
  });

  it('one failed file of four: the bar ends at three quarters, and the ETA does not wait for its bytes', () => {
    const run = new RunProgress(4, 4 * MiB);
    run.sample(0);
    run.end(inFlight(run, MiB, MiB / 2).t, MiB, 'failed', 10);
    for (let i = 0; i < 3; i++) run.end(inFlight(run, MiB, MiB).t, MiB, 'uploaded', 20 + i * 10);
    run.sample(1000);
    expect(run.fraction()).toBeCloseTo(0.75, 5);
    expect(run.etaMs()).toBe(0);
  });

  it('says the run is finalizing only when every file left is being finalized', () => {
    const run = new RunProgress(3, 3 * 20 * MiB);
    const a = inFlight(run, 20 * MiB, 20 * MiB);
    const b = inFlight(run, 20 * MiB, 5 * MiB);
    run.end(inFlight(run, 20 * MiB, 20 * MiB).t, 20 * MiB, 'uploaded');
    a.events.emit('upload:finalizing');
    expect(a.t.finalizing).toBe(true);
    expect(run.finalizing()).toBe(false); // b is still sending
    b.events.emit('part:progress', { number: 1, bytes: 14 * MiB });
    b.events.emit('upload:finalizing');
    // Progress not yet passed on is counted in once every part is in.
    expect(b.t.done).toBe(20 * MiB);
    expect(run.finalizing()).toBe(true);
    expect(run.fraction()).toBe(1);
  });

  it('a run that is not finalizing while files wait for their turn', () => {
    const run = new RunProgress(3, 3 * MiB);
    const a = inFlight(run, MiB, MiB);
    a.events.emit('upload:finalizing');
    expect(run.finalizing()).toBe(false);
  });
});

describe('a run whose walk is still going', () => {
  it('shows the count found so far and "scanning" until the total is known, then the total', () => {
    const totals = { files: 412_000, bytes: 5000, done: false };
    const run = new RunProgress(totals);
    expect(run.scanning).toBe(true);
    expect(run.filesLabel()).toBe('0 files');
    expect(run.scanLine()).toBe('scanning: 412,000 files found');
    expect(run.finalizing()).toBe(false);
    totals.files = 412_345;
    totals.done = true;
    expect(run.scanning).toBe(false);
    expect(run.filesLabel()).toBe('0/412345 files');
    expect(run.filesTotal).toBe(412_345);
  });
});
