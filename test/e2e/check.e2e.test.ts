// `lakeup check` over a complete, an incomplete and a changed tree on both providers: exit 0 when
// every file is in the drive and the same, 1 when not, with a line for each one that is not.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { errorLines } from '../helpers/outcome.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const bed = useSandboxBed();
const MiB = 1024 * 1024;

async function tree(): Promise<string> {
  const dir = path.join(fs.mkdtempSync(path.join(bed.work, 'check-')), 'site');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  await makeFile(path.join(dir, 'big.bin'), 7 * MiB, 1);
  await makeFile(path.join(dir, 'sub', 'a.txt'), 1000, 2);
  await makeFile(path.join(dir, 'sub', 'b.txt'), 2000, 3);
  return dir;
}

describe.each(['memorylake', 'copera'])('lakeup check on %s', (provider) => {
  it('passes on a complete tree, then names what is missing and what changed', async () => {
    const dir = await tree();
    // An empty file inside the folder: `put` skips it, and so does `check` (not an error, exit 0).
    fs.writeFileSync(path.join(dir, 'sub', '.gitkeep'), '');
    // A parent of its own: each test's tree is alone in it.
    const put = await runCli(['put', dir, '-r', '-p', provider, '--json'], { env: bed.env });
    expect(put.code, put.stderr).toBe(0);
    const complete = await runCli(['check', dir, '-r', '-p', provider], { env: bed.env });
    expect(complete.code, complete.stderr).toBe(0);
    expect(complete.stdout).toBe('');
    expect(complete.stderr.trim()).toBe('lakeup: check: 4 files: 3 in the drive, 1 skipped (empty)');

    // Incomplete: a file the drive never got. Changed: same name, another size; same size, other bytes.
    await makeFile(path.join(dir, 'sub', 'new.txt'), 500, 4);
    await makeFile(path.join(dir, 'sub', 'a.txt'), 1001, 2);
    await makeFile(path.join(dir, 'big.bin'), 7 * MiB, 9);
    const r = await runCli(['check', dir, '-r', '-p', provider, '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(1);
    const byFile = Object.fromEntries(jsonLines(r).map((l) => [path.basename(String(l.file)), l]));
    expect(byFile['new.txt']).toMatchObject({ status: 'missing' });
    expect(byFile['a.txt']).toMatchObject({ status: 'different', why: expect.stringMatching(/size differs/) });
    expect(byFile['b.txt']).toMatchObject({ status: 'same', id: expect.any(String) });
    // MemoryLake's ETag tells the content apart; Copera gives no checksum: name and size only.
    expect(byFile['big.bin']).toMatchObject(provider === 'memorylake' ? { status: 'different', why: 'content differs' } : { status: 'same', why: 'name and size' });
    const human = await runCli(['check', dir, '-r', '-p', provider], { env: bed.env });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^✘ .*new\.txt: missing in the drive$/m);
    expect(human.stdout).not.toMatch(/b\.txt/);
  });
});

describe('lakeup check', () => {
  it('says a missing local file and a bad flag in one line each, exit 2', async () => {
    const r = await runCli(['check', path.join(bed.work, 'nope.bin'), '-p', 'copera'], { env: bed.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lakeup: error: .*nope\.bin: no such file/m);
    const u = await runCli(['check', 'x', '-p', 'dropbox'], { env: bed.env });
    expect(u.code).toBe(2);
    expect(u.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a folder without -r: says -r checks it (check uploads nothing), exit 2', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'check-dir-'));
    await makeFile(path.join(dir, 'a.txt'), 100, 1);
    const r = await runCli(['check', dir, '-p', 'copera'], { env: bed.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lakeup: error: .*: is a directory \(use --recursive to check a folder\)$/m);
    expect(r.stderr).not.toMatch(/upload/);
  });
});

// One cause, one line: a check of many files used to print the same refusal once per file.
describe.each(['memorylake', 'copera'])('lakeup check on %s, one cause for every file', (provider) => {
  it('a refused token: one line for the whole check, exit 3', async () => {
    const dir = await tree();
    const r = await runCli(['check', dir, '-r', '-p', provider], { env: { ...bed.env, LAKEUP_TOKEN: 'sk_wrong_token_for_check' } });
    expect(r.code, r.stderr).toBe(3);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/check the token.*; the check stopped: \d of 3 files not checked$/m);
    expect(r.stderr + r.stdout).not.toContain('sk_wrong_token_for_check');
  });

  it('a --parent the drive does not have: one line, however many files', async () => {
    const dir = await tree();
    const parent = provider === 'copera' ? 'abcdefabcdefabcdefabcdef' : 'sc-nosuchfolder:0';
    const r = await runCli(['check', dir, '-r', '-p', provider, '--parent', parent], { env: bed.env });
    expect(r.code, r.stderr).toBeGreaterThan(0);
    expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/lakeup: check: 3 files: 0 in the drive, 3 could not be checked$/m);
    // --json: still one line on stderr, and a failure line for every file on stdout.
    const j = await runCli(['check', dir, '-r', '-p', provider, '--parent', parent, '--json'], { env: bed.env });
    expect(j.code).toBe(r.code);
    expect(errorLines(j.stderr), j.stderr).toHaveLength(1);
    expect(jsonLines(j).filter((l) => l.ok === false)).toHaveLength(3);
  });
});

describe.each(['check', 'put'])('lakeup %s, a --parent that is no Copera id', (command) => {
  it('is one usage line before any call, exit 2', async () => {
    const dir = await tree();
    const r = await runCli([command, dir, '-r', '-p', 'copera', '--parent', 'nope123'], { env: bed.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("lakeup: error: --parent: Copera folder ids are 24 hex characters, got 'nope123'");
  });
});
