// What a person sees on a real terminal with default flags, and what a merged `2>&1` log shows:
// every failure line is there, each file's result line is said once, as the file ends, above the
// bar; a file being finalized says so.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, baseEnv } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { hasScript, runInPty, screen } from '../helpers/pty.js';
import type { TapCall } from '../helpers/api-tap.mjs';
import { useTappedSandboxBed } from '../helpers/sandbox-bed.js';
import { gate, waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const bed = useTappedSandboxBed();

/** Runs the CLI with stdout and stderr on one pipe, as CI logs are read. */
function runMerged(args: string[]): Promise<{ code: number | null; log: string }> {
  const child = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, BIN, ...args], { env: baseEnv(bed.env), stdio: ['ignore', 'pipe', 'inherit'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, log })));
}

describe.skipIf(!hasScript)('on a terminal', () => {
  it('shows why a file failed, on a rerun that has nothing to send too', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'fail-'));
    const big = await makeFile(path.join(dir, 'big4.bin'), 4 * MiB);
    const args = ['put', big, path.join(dir, 'nope.bin'), '-p', 'copera'];
    for (const attempt of ['first', 'rerun']) {
      const { code, raw } = await runInPty(args, { env: bed.env }).result;
      const seen = screen(raw);
      expect(code, attempt).toBe(2);
      expect(seen.filter((l) => /nope\.bin: no such file/.test(l)), `${attempt}:\n${seen.join('\n')}`).toHaveLength(1);
      expect(seen.filter((l) => /^✔ .*big4\.bin/.test(l)), attempt).toHaveLength(1);
      expect(seen[seen.length - 1]).toMatch(/^lakeup: 2 files: .*1 failed$/);
    }
  });

  it('a file already uploaded leaves no empty bar behind, only its line', async () => {
    const file = await makeFile(path.join(bed.work, 'twice.bin'), 2000, 7);
    expect((await runInPty(['put', file, '-p', 'copera'], { env: bed.env }).result).code).toBe(0);
    const { code, raw } = await runInPty(['put', file, '-p', 'copera'], { env: bed.env }).result;
    expect(code, raw).toBe(0);
    const seen = screen(raw).filter((l) => l !== '');
    expect(seen, seen.join('\n')).toEqual([expect.stringMatching(/^✔ .*twice\.bin: already uploaded → twice\.bin \(/)]);
  });

  it('prints each result line above the bar as its file ends, not when the run ends', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'live-'));
    const a = await makeFile(path.join(dir, 'a.bin'), 1000, 1);
    const b = await makeFile(path.join(dir, 'b.bin'), 2000, 2);
    // b.bin's session is held at the server until the test has seen a.bin's line. (The tap reads
    // its rules after telling of a request: the rule set here is the one this request meets.)
    const held = gate();
    const onRequest = (c: TapCall) => {
      if (c.moment === 'session') bed.tap.slow('session', c.name === 'b.bin' ? { until: held.promise } : {});
    };
    bed.tap.events.on('request', onRequest);
    const run = runInPty(['put', a, b, '-p', 'copera'], { env: bed.env });
    try {
      // a.bin's line, and the bar drawn again below it (the terminal may hand the two writes over
      // in separate reads: wait for both, while b.bin is still held).
      const during = await waitFor("a.bin's result line with the bar below it", () => {
        const lines = screen(run.raw());
        const line = lines.findIndex((l) => /^✔ .*a\.bin → a\.bin/.test(l));
        return line >= 0 && lines.slice(line + 1).some((l) => /^\d\/2 files .*%/.test(l)) ? lines : undefined;
      });
      // The run is still going when a.bin's line is there.
      expect(during.some((l) => /^lakeup: 2 files/.test(l)), during.join('\n')).toBe(false);
    } finally {
      held.open();
      bed.tap.events.off('request', onRequest);
    }
    const { code, raw } = await run.result;
    expect(code).toBe(0);
    const seen = screen(raw);
    // Each file once, above the bar's last frame; the summary under it.
    expect(seen.filter((l) => /a\.bin/.test(l))).toHaveLength(1);
    expect(seen.filter((l) => /b\.bin/.test(l))).toHaveLength(1);
    const bar = seen.findIndex((l) => /^2\/2 files .*100%/.test(l));
    expect(bar, seen.join('\n')).toBeGreaterThan(seen.findIndex((l) => /b\.bin/.test(l)));
    expect(seen.slice(bar + 1)).toEqual(['lakeup: 2 files: 2 uploaded']);
  });

  it('says "finalizing" while the server assembles the file, not a percentage short of it and ETA 0s', async () => {
    const file = await makeFile(path.join(bed.work, 'fin.bin'), 12 * MiB);
    const held = gate();
    bed.tap.slow('finalize', { until: held.promise });
    const atServer = bed.nextCall('server-busy', (c) => c.moment === 'finalize');
    const run = runInPty(['put', file, '-p', 'copera'], { env: bed.env });
    try {
      await atServer;
      const frame = await waitFor('the bar to say finalizing', () => screen(run.raw()).find((l) => /finalizing/.test(l)));
      expect(frame).toMatch(/^fin\.bin .* 100% \| 12 MiB\/12 MiB \| .* \| finalizing$/);
    } finally {
      held.open();
    }
    expect((await run.result).code).toBe(0);
  });
});

describe('in a merged log (2>&1 through a pipe)', () => {
  it('names each file once: its result line, not a progress line too', async () => {
    const root = fs.mkdtempSync(path.join(bed.work, 'merged-'));
    fs.mkdirSync(path.join(root, 'sub1'));
    const names = ['f1.txt', 'f2.txt', 'sub1/f100.txt'];
    for (const [i, n] of names.entries()) await makeFile(path.join(root, n), 100 + i, i + 1);
    const { code, log } = await runMerged(['put', root, '-r', '-p', 'memorylake']);
    expect(code, log).toBe(0);
    for (const n of names) {
      const lines = log.split('\n').filter((l) => l.includes(n));
      expect(lines, log).toHaveLength(1);
      expect(lines[0]).toMatch(/^✔ /);
    }
  });
});

// Seen on a terminal: a single file that fails before it has a session (a --parent the drive does not
// have) left an empty line under its error line: its 0 B bar was taken off, and the bars' final
// newline was still written under none.
describe('a single file that fails before its session', () => {
  it.skipIf(!hasScript)('leaves its error line and nothing under it', async () => {
    const file = await makeFile(path.join(bed.work, 'no-parent.bin'), 1000, 7);
    const r = await runInPty(['put', file, '-p', 'memorylake', '--parent', 'sc-nosuchfolder:0'], { env: bed.env }).result;
    expect(r.code, r.raw).toBe(1);
    expect(screen(r.raw), r.raw).toEqual([expect.stringMatching(/^lakeup: error: .*404/)]);
  });
});
