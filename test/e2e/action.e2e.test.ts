// The GitHub Action's entry (dist/action/main.js, as action.yml runs it) on a simulated runner:
// INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, against the sandbox. Its outputs,
// the job summary, the annotations, and the token masked and never printed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseEnv, ROOT } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const bed = useSandboxBed();
const ENTRY = path.join(ROOT, 'dist', 'action', 'main.js');

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Runs the action's entry as the runner does: node <entry>, inputs as INPUT_<NAME> (hyphens kept). */
async function runAction(dir: string, inputs: Record<string, string>): Promise<ActionRun> {
  const output = path.join(dir, 'github-output');
  const summary = path.join(dir, 'step-summary');
  fs.writeFileSync(output, '');
  fs.writeFileSync(summary, '');
  const env = baseEnv({ GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, RUNNER_TEMP: dir });
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const child = spawn(process.execPath, [ENTRY], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr, outputs: parseOutputs(fs.readFileSync(output, 'utf8')), summary: fs.readFileSync(summary, 'utf8') };
}

/** GITHUB_OUTPUT as @actions/core writes it: `name<<DELIMITER`, the value's lines, `DELIMITER`. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]);
    if (!m) continue;
    const end = lines.indexOf(m[2], i + 1);
    out[m[1]] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return out;
}

describe('the GitHub Action', () => {
  it('uploads, sets its outputs, writes the summary and one annotation per failed file, and masks the token', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'action-'));
    await makeFile(path.join(dir, 'a.bin'), 300_000, 1);
    await makeFile(path.join(dir, 'b.bin'), 1000, 2);
    const token = bed.sb.token;
    const r = await runAction(dir, {
      paths: 'a.bin\nb.bin\n\nnope.bin\n',
      provider: 'memorylake',
      token,
      endpoint: bed.sb.origin,
      'state-dir': bed.stateDir,
      recursive: 'false',
    });
    // The CLI's exit code 2 (bad local input) fails the step (the runner sees 1).
    expect(r.code, r.stderr).toBe(1);
    expect(r.outputs).toMatchObject({ uploaded: '2', skipped: '0', failed: '1' });
    expect(path.dirname(r.outputs.manifest)).toBe(dir);
    const items = JSON.parse(r.outputs.items) as Array<Record<string, unknown>>;
    expect(items.map((i) => i.name).sort()).toEqual(['a.bin', 'b.bin']);
    for (const i of items) expect(i).toMatchObject({ status: 'uploaded', id: expect.any(String), etag: expect.stringMatching(/^[0-9a-f]{32}-\d+$/) });
    expect(r.summary).toMatch(/^### lakeup: 3 files: 2 uploaded, 1 failed$/m);
    expect(r.summary).toMatch(/^\| nope\.bin \| no such file \|$/m);
    const annotations = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('::error'));
    expect(annotations.sort()).toEqual(['::error title=lakeup::nope.bin: no such file', expect.stringMatching(/^::error::lakeup put exited with 2 /)].sort());
    // Masked first thing, and never printed otherwise: not in the log, the summary or the outputs.
    expect(r.stdout.split('\n')[0]).toBe(`::add-mask::${token}`);
    const log = `${r.stdout.split('\n').slice(1).join('\n')}${r.stderr}`;
    for (const text of [log, r.summary, JSON.stringify(r.outputs)]) expect(text).not.toContain(token);
    expect(log).not.toContain('\x1b');
  });

  it('mirrors the flags as inputs: a re-run with skip-existing counts files already there, items past the limit left out', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'action-'));
    fs.mkdirSync(path.join(dir, 'tree', 'sub'), { recursive: true });
    await makeFile(path.join(dir, 'tree', 'a.bin'), 1000, 1);
    await makeFile(path.join(dir, 'tree', 'sub', 'b.bin'), 1000, 2);
    await makeFile(path.join(dir, 'tree', 'c.tmp'), 1000, 3);
    const inputs = { paths: 'tree', provider: 'copera', token: bed.sb.token, endpoint: bed.sb.origin, 'state-dir': bed.stateDir, recursive: 'true', exclude: '*.tmp' };
    const first = await runAction(dir, inputs);
    expect(first.code, first.stderr).toBe(0);
    expect(first.outputs).toMatchObject({ uploaded: '2', skipped: '1', failed: '0' });
    const again = await runAction(dir, { ...inputs, 'skip-existing': 'true', 'items-limit': '1' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.outputs).toMatchObject({ uploaded: '0', skipped: '3', failed: '0', items: '' });
    expect(again.summary).toMatch(/^\| 0 \| 0 B \| .* \| 0 \| 2 \| 1 \| 0 \|$/m);
  });

  it('says a bad input in one line and fails the step without running anything', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'action-'));
    const r = await runAction(dir, { paths: 'a.bin', provider: 'copera', recursive: 'maybe' });
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toBe("::error::input recursive: expected true or false, got 'maybe'");
    expect(r.outputs).toEqual({});
  });
});
