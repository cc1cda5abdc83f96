// Inside GitHub Actions (GITHUB_ACTIONS=true) through a plain `run:` step: a Markdown table in
// $GITHUB_STEP_SUMMARY, one `::error` annotation per failed file that never holds a secret, result
// lines without per-file "done" lines beside them, and never an ANSI code or a bar, even when the
// runner hands the step a terminal.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { hasScript, runInPty } from '../helpers/pty.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const bed = useSandboxBed();

function runner(dir: string): Record<string, string> {
  const summary = path.join(dir, 'step-summary.md');
  fs.writeFileSync(summary, '');
  return { ...bed.env, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary };
}

describe('inside GitHub Actions', () => {
  it('writes the job summary, one annotation per failed file, and no secret anywhere', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'gha-'));
    const a = await makeFile(path.join(dir, 'a.bin'), 300_000, 1);
    const b = await makeFile(path.join(dir, 'b|c.bin'), 200_000, 2);
    const env = runner(dir);
    // One part answered 500 (a retry); one file's session refused with the token echoed back.
    bed.sb.script({ route: 'part', status: 500, times: 1 });
    bed.sb.script({ route: 'memorylake.create', status: 400, times: 1, body: { success: false, message: `bad request for ${bed.sb.token}`, error_code: 'BAD_REQUEST' } });
    const r = await runCli(['put', b, a, path.join(dir, 'nope.bin'), '-p', 'memorylake', '-j', '1'], { env });
    expect(r.code).toBe(1);
    const annotations = r.stderr.split('\n').filter((l) => l.startsWith('::error'));
    expect(annotations, r.stderr).toHaveLength(2);
    expect(annotations.filter((l) => /nope\.bin: no such file/.test(l))).toHaveLength(1);
    // The annotation replaces the plain error line: each failure is said once in the log.
    expect(r.stderr).not.toMatch(/lakeup: error:/);
    const summary = fs.readFileSync(env.GITHUB_STEP_SUMMARY, 'utf8');
    expect(summary).toMatch(/^### lakeup: 3 files: 1 uploaded, 2 failed$/m);
    expect(summary).toMatch(/^\| Uploaded \| Bytes \| Time \| Speed \| Retries \| Already there \| Skipped \| Failed \|$/m);
    // 1 uploaded, its bytes, one retry, none already there or skipped, 2 failed.
    expect(summary).toMatch(/^\| 1 \| [\d.]+ (KiB|B) \| [\d.]+s \| [\d.]+ \w+\/s \| 1 \| 0 \| 0 \| 2 \|$/m);
    expect(summary).toMatch(/^\| .*nope\.bin \| no such file \|$/m);
    // The refused file's row names it with its `|` escaped, and its reason without the token.
    expect(summary).toMatch(/^\| .*b\\\|c\.bin \| MemoryLake refused .*bad request for REDACTED/m);
    for (const text of [r.stdout, r.stderr, summary]) expect(text).not.toContain(bed.sb.token);
    for (const text of [r.stdout, r.stderr]) expect(text).not.toContain('\x1b');
    // Result lines on stdout say each file's end; stderr holds no "done" line beside them.
    expect(r.stdout).toMatch(/^✔ .*a\.bin/m);
    expect(r.stderr).not.toMatch(/: done, /);
  });

  it('appends to a summary earlier steps wrote', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'gha-'));
    const a = await makeFile(path.join(dir, 'a.bin'), 1000, 1);
    const env = runner(dir);
    fs.writeFileSync(env.GITHUB_STEP_SUMMARY, '## build\n\n');
    const r = await runCli(['put', a, '-p', 'copera'], { env });
    expect(r.code).toBe(0);
    const summary = fs.readFileSync(env.GITHUB_STEP_SUMMARY, 'utf8');
    expect(summary.startsWith('## build\n\n### lakeup: 1 file: 1 uploaded\n')).toBe(true);
    expect(r.stderr).not.toMatch(/::error/);
  });
});

describe.skipIf(!hasScript)('inside GitHub Actions, on a terminal', () => {
  it('draws no bar and writes no escape code', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'gha-pty-'));
    const a = await makeFile(path.join(dir, 'a.bin'), 2 * 1024 * 1024, 1);
    const { code, raw } = await runInPty(['put', a, path.join(dir, 'nope.bin'), '-p', 'copera'], { env: runner(dir) }).result;
    expect(code).toBe(2);
    expect(raw).not.toContain('\x1b');
    expect(raw).toMatch(/::error title=lakeup::.*nope\.bin: no such file/);
    expect(raw).toMatch(/✔ .*a\.bin/);
  });
});
