// Choosing files, end to end against the sandbox: --exclude/--include, --files-from (lines and
// NUL), symbolic links (files, folders, a loop, --no-follow-symlinks), FIFOs, empty files, and runs
// whose files can never be sent that still end with nothing pending.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { drivePath } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const bed = useSandboxBed();
const IS_WIN = process.platform === 'win32';

/** The drive paths of the files the sandbox finished under `top` (the uploaded folder's name), sorted. */
function sentUnder(top: string): string[] {
  return bed.sb
    .stats()
    .finalized.filter((f) => f.provider === 'memorylake')
    .map((f) => drivePath(bed.sb, f))
    .filter((p) => p.startsWith(`${top}/`))
    .sort();
}

/** Writes each `rel` of `files` under `root` (a number is a size, '' an empty file). */
async function tree(root: string, files: Record<string, number | ''>): Promise<string> {
  for (const [rel, size] of Object.entries(files)) {
    const p = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (size === '') fs.writeFileSync(p, '');
    else await makeFile(p, size, rel.length);
  }
  return root;
}

function pending(): { runs: unknown[]; uploads: unknown[] } {
  const r = spawnSync(process.execPath, ['bin/lakeup.js', 'list', '--json'], { env: { ...process.env, ...bed.env }, encoding: 'utf8' });
  return JSON.parse(r.stdout) as { runs: unknown[]; uploads: unknown[] };
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /^lakeup: error: /.test(l));

describe('--exclude and --include', () => {
  it('leave out what they match (a folder by its name, the last match winning), counted in the summary and the JSON lines', async () => {
    const root = await tree(path.join(bed.work, 'filtered'), { 'a.txt': 10, 'b.log': 20, 'sub/keep.log': 30, 'sub/c.log': 40, '.git/HEAD': 5, '.git/refs/x': 6 });
    const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--json', '--exclude', '*.log', '--exclude', '.git', '--include', 'sub/keep.log'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(sentUnder('filtered')).toEqual(['filtered/a.txt', 'filtered/sub/keep.log']);
    expect(r.stderr).toMatch(/^lakeup: 6 files: 2 uploaded, 4 excluded$/m);
    const excluded = jsonLines(r).filter((l) => l.reason === 'excluded').map((l) => path.relative(root, l.file as string).split(path.sep).join('/'));
    expect(excluded.sort()).toEqual(['.git/HEAD', '.git/refs/x', 'b.log', 'sub/c.log']);
    expect(jsonLines(r).filter((l) => l.id)).toHaveLength(2);
  });

  it('--include alone sends only what it matches; --dry-run says what is excluded', async () => {
    const root = await tree(path.join(bed.work, 'only-txt'), { 'a.txt': 10, 'b.bin': 20, 'd/c.txt': 30 });
    const dry = await runCli(['put', root, '-r', '-p', 'memorylake', '--dry-run', '--include', '*.txt'], { env: {} });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/only-txt[\\/]b\.bin: excluded$/m);
    expect(dry.stderr).toMatch(/^lakeup: 3 files: 2 to upload, 1 excluded$/m);
    const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--include', '*.txt'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(sentUnder('only-txt')).toEqual(['only-txt/a.txt', 'only-txt/d/c.txt']);
    expect(r.stderr).toMatch(/^lakeup: 3 files: 2 uploaded, 1 excluded$/m);
  });

  it('apply to files named on the command line by the path as given; one file left out is said, not skipped in silence', async () => {
    const root = await tree(path.join(bed.work, 'named'), { 'a.log': 10, 'b.txt': 20 });
    const before = bed.sb.stats().finalized.length;
    const one = await runCli(['put', path.join(root, 'a.log'), '-p', 'memorylake', '--exclude', '*.log'], { env: bed.env });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stderr).toMatch(/^lakeup: 1 file: 0 uploaded, 1 excluded$/m);
    const two = await runCli(['put', path.join(root, 'a.log'), path.join(root, 'b.txt'), '-p', 'memorylake', '--exclude', '*.log'], { env: bed.env });
    expect(two.code, two.stderr).toBe(0);
    expect(bed.sb.stats().finalized.slice(before).map((f) => f.name)).toEqual(['b.txt']);
  });

  it('LAKEUP_EXCLUDE holds one glob a line; a glob that is not relative is one usage line', async () => {
    const root = await tree(path.join(bed.work, 'env-ex'), { 'a.txt': 10, 'b.tmp': 20, 'c.bak': 30 });
    const r = await runCli(['put', root, '-r', '-p', 'memorylake'], { env: { ...bed.env, LAKEUP_EXCLUDE: '*.tmp\n*.bak' } });
    expect(r.code, r.stderr).toBe(0);
    expect(sentUnder('env-ex')).toEqual(['env-ex/a.txt']);
    const bad = await runCli(['put', root, '-r', '-p', 'memorylake', '--exclude', '/etc/*'], { env: bed.env });
    expect(bad.code).toBe(2);
    expect(errorLines(bad.stderr)).toEqual([expect.stringMatching(/--exclude: '\/etc\/\*' is not a glob relative to the folder named/)]);
  });
});

describe('--files-from', () => {
  it.each([
    ['one path a line', (ps: string[]) => ps.join('\n') + '\n'],
    ['NUL-separated (find -print0)', (ps: string[]) => ps.map((p) => `${p}\0`).join('')],
  ])('reads the paths from standard input, %s', async (form, list) => {
    const tag = form.startsWith('NUL') ? 'nul' : 'nl';
    const dir = path.join(bed.work, `from-${tag}`);
    const names = [`${tag}-one.bin`, `${tag} two words.bin`, `${tag}-three.bin`];
    fs.mkdirSync(dir, { recursive: true });
    for (const [i, n] of names.entries()) await makeFile(path.join(dir, n), 100 + i, i + 1);
    const before = bed.sb.stats().finalized.length;
    const r = await runCli(['put', '--files-from', '-', '-p', 'memorylake', '--json', '--exclude', '*three.bin'], { env: bed.env, input: list(names.map((n) => path.join(dir, n))) });
    expect(r.code, r.stderr).toBe(0);
    const sent = bed.sb.stats().finalized.slice(before).map((f) => f.name).sort();
    expect(sent).toEqual([`${tag} two words.bin`, `${tag}-one.bin`].sort());
    expect(r.stderr).toMatch(/^lakeup: 3 files: 2 uploaded, 1 excluded$/m);
  });

  it('an empty list, or one with "-" named too, is one line and exit 2', async () => {
    const empty = await runCli(['put', '--files-from', '-', '-p', 'memorylake'], { env: bed.env, input: '\n' });
    expect(empty.code).toBe(2);
    expect(errorLines(empty.stderr)).toEqual(['lakeup: error: --files-from: standard input names no files']);
    const both = await runCli(['put', '-', '--name', 'x', '--files-from', '-', '-p', 'memorylake'], { env: bed.env, input: 'a\n' });
    expect(both.code).toBe(2);
    expect(errorLines(both.stderr)).toEqual([expect.stringMatching(/--files-from -: standard input holds the list/)]);
  });
});

describe.skipIf(IS_WIN)('symbolic links, loops and special files inside a folder', () => {
  it('follows linked files and folders, reports a loop once and sends the rest', async () => {
    const outside = await tree(path.join(bed.work, 'outside'), { 'model.bin': 300, 'cfg/c.json': 40 });
    const root = await tree(path.join(bed.work, 'snapshot'), { 'real.txt': 10 });
    fs.symlinkSync(path.join(outside, 'model.bin'), path.join(root, 'model.bin'));
    fs.symlinkSync(path.join(outside, 'cfg'), path.join(root, 'cfg'));
    fs.mkdirSync(path.join(root, 'sub'));
    fs.symlinkSync('..', path.join(root, 'sub', 'up')); // a loop
    const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(sentUnder('snapshot')).toEqual(['snapshot/cfg/c.json', 'snapshot/model.bin', 'snapshot/real.txt']);
    expect(r.stderr).toMatch(/^lakeup: .*snapshot[\\/]sub[\\/]up: a link back to .*snapshot \(a loop\): not followed$/m);
    expect(r.stderr).toMatch(/^lakeup: 4 files: 3 uploaded, 1 skipped \(link loop\)$/m);
    expect(jsonLines(r).filter((l) => l.reason === 'loop')).toHaveLength(1);
  });

  it('--no-follow-symlinks leaves links out, said in one notice and counted', async () => {
    const root = await tree(path.join(bed.work, 'annex'), { 'readme.md': 10, '.git/annex/objects/k1': 50, '.git/annex/objects/k2': 60 });
    fs.symlinkSync('.git/annex/objects/k1', path.join(root, 'a.csv'));
    fs.symlinkSync('.git/annex/objects/k2', path.join(root, 'b.csv'));
    const args = ['put', root, '-r', '-p', 'memorylake', '--exclude', '.git'];
    const r = await runCli([...args, '--no-follow-symlinks'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(sentUnder('annex')).toEqual(['annex/readme.md']);
    expect(r.stderr).toMatch(/^lakeup: skipped 2 symbolic links \(--no-follow-symlinks\): .*a\.csv, .*b\.csv$/m);
    expect(r.stderr).toMatch(/^lakeup: 5 files: 1 uploaded, 2 skipped \(symlinks\), 2 excluded$/m);
    // By default the same tree sends what the links point to.
    const before = bed.sb.stats().finalized.length;
    const followed = await runCli([...args, '--exclude', 'readme.md'], { env: bed.env });
    expect(followed.code, followed.stderr).toBe(0);
    expect(bed.sb.stats().finalized.slice(before).map((f) => `${f.name} ${f.size}`).sort()).toEqual(['a.csv 50', 'b.csv 60']);
  });

  it('a FIFO inside a folder is skipped with a notice; named on the command line it is refused in one line', async () => {
    const root = await tree(path.join(bed.work, 'with-fifo'), { 'a.txt': 10 });
    const fifo = path.join(root, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = await runCli(['put', root, '-r', '-p', 'memorylake'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lakeup: .*with-fifo[\\/]pipe: a FIFO \(named pipe\), not a regular file: skipped$/m);
    expect(r.stderr).toMatch(/^lakeup: 2 files: 1 uploaded, 1 skipped \(special file\)$/m);
    const before = bed.sb.stats().finalized.length;
    const named = await runCli(['put', path.join(root, 'a.txt'), fifo, '-p', 'memorylake'], { env: bed.env });
    expect(named.code).toBe(2);
    expect(errorLines(named.stderr)).toEqual([expect.stringMatching(/pipe: a FIFO \(named pipe\), not a regular file; to send what it carries, pipe it in: lakeup put - --name NAME$/)]);
    expect(bed.sb.stats().finalized.length).toBe(before);
  });
});

describe('a file that can never be sent does not hold a run hostage', () => {
  it('an empty .gitkeep in a folder is skipped with one notice: exit 0, the run done', async () => {
    const root = await tree(path.join(bed.work, 'keep'), { 'a.txt': 10, 'logs/.gitkeep': '', 'out/.gitkeep': '' });
    const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lakeup: skipped 2 empty files \(neither provider stores empty files\): .*logs[\\/]\.gitkeep, .*out[\\/]\.gitkeep$/m);
    expect(r.stderr).toMatch(/^lakeup: 3 files: 1 uploaded, 2 skipped \(empty\)$/m);
    expect(jsonLines(r).filter((l) => l.reason === 'empty')).toEqual([expect.objectContaining({ ok: true, skipped: true, size: 0 }), expect.objectContaining({ size: 0 })]);
    expect(pending()).toEqual(expect.objectContaining({ runs: [], uploads: [] }));
  });

  it.skipIf(IS_WIN)('an empty file and a link whose target is missing: the others finish, the run reaches 0 pending, resume --all has nothing to do', async () => {
    // chmod 000 does not stop root (CI runs as root): the file whose read fails is a dangling link.
    const root = await tree(path.join(bed.work, 'hostage'), { 'a.txt': 10, 'b/c.txt': 20, 'b/.gitkeep': '' });
    fs.symlinkSync('gone.bin', path.join(root, 'b', 'broken.bin'));
    const args = ['put', root, '-r', '-p', 'memorylake'];
    const r = await runCli(args, { env: bed.env });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/broken\.bin: a symbolic link whose target is missing$/)]);
    expect(r.stderr).toMatch(/^lakeup: 4 files: 2 uploaded, 1 skipped \(empty\), 1 failed$/m);
    expect(sentUnder('hostage')).toEqual(['hostage/a.txt', 'hostage/b/c.txt']);
    expect(fs.readdirSync(bed.stateDir).filter((n) => n.endsWith('.run.ndjson'))).toEqual([]);
    expect(pending()).toEqual(expect.objectContaining({ runs: [], uploads: [] }));
    const sessions = bed.sb.stats().sessions;
    const resume = await runCli(['resume', '--all'], { env: bed.env });
    expect(resume.code, resume.stderr).toBe(0);
    expect(bed.sb.stats().sessions).toBe(sessions);
  });

  it('a named file deleted since fails on its own and the run of the others is complete', async () => {
    const dir = path.join(bed.work, 'gone');
    await tree(dir, { 'x.bin': 10, 'y.bin': 20 });
    const r = await runCli(['put', path.join(dir, 'x.bin'), path.join(dir, 'deleted.bin'), path.join(dir, 'y.bin'), '-p', 'memorylake'], { env: bed.env });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/deleted\.bin: no such file$/)]);
    expect(r.stderr).toMatch(/^lakeup: 3 files: 2 uploaded, 1 failed$/m);
    expect(pending()).toEqual(expect.objectContaining({ runs: [], uploads: [] }));
  });
});
