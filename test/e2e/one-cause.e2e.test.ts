// One cause, one line: a refused token stops a run of many files at its first 401 and says so
// once; a drive folder that cannot be made is said once, with the number of files it held back.
// Default flags, on a pipe and on a real terminal, where the lines the user sees are counted.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli, startCli } from '../helpers/cli.js';
import { hasScript, runInPty, screen } from '../helpers/pty.js';
import { makeFile } from '../helpers/files.js';
import { STACK_TRACE, errorLines } from '../helpers/outcome.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';
import { GRACE_MS } from '../../src/cli/signals.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed();
const WRONG = 'sk_wrong_token_do_not_print_0123456789';

/** `n` small files under `work/name`, `under` of them in the sub-folder `a` (a fifth of those in `a/deep`). */
function makeTree(name: string, n: number, under = 0): { root: string; files: string[] } {
  const root = path.join(bed.work, name);
  fs.mkdirSync(path.join(root, 'a', 'deep'), { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = i >= under ? root : i % 5 === 0 ? path.join(root, 'a', 'deep') : path.join(root, 'a');
    const file = path.join(dir, `f${i}.txt`);
    fs.writeFileSync(file, `file ${i}\n`);
    files.push(file);
  }
  return { root, files };
}

describe('a refused token stops the run', () => {
  it.each(['memorylake', 'copera'])('a folder of 300 files with a wrong token: one line, exit 3, nothing more asked (%s)', async (provider) => {
    const { root } = makeTree(`refused-${provider}`, 300);
    const before = bed.sb.stats().apiCalls;
    const r = await runCli(['put', root, '-r', '-p', provider], { env: { ...bed.env, LAKEUP_TOKEN: WRONG } });
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^lakeup: error: (MemoryLake|Copera) refused .*HTTP 401.*check the token.*; the run stopped: 300 of 300 files not sent$/);
    expect(r.stdout).toBe('');
    expect(r.stderr + r.stdout).not.toContain(WRONG);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    // The run stopped at the first refusal: not one call per file.
    const calls = Object.entries(bed.sb.stats().apiCalls).reduce((n, [route, c]) => n + c - (before[route] ?? 0), 0);
    expect(calls).toBeLessThanOrEqual(4);
  });

  it('several files sent at once: the one refusal stops the others in flight, and a rerun with the right token sends them all', async () => {
    const { files } = makeTree('refused-paths', 40);
    const args = ['put', ...files, '-p', 'memorylake'];
    const r = await runCli(args, { env: { ...bed.env, LAKEUP_TOKEN: WRONG } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n'), r.stderr).toEqual([expect.stringMatching(/^lakeup: error: MemoryLake refused .*HTTP 401.*; the run stopped: 40 of 40 files not sent$/)]);
    expect(bed.sb.stats().apiCalls['memorylake.create'] ?? 0).toBeLessThanOrEqual(16 * 2); // one round of --jobs at most

    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/lakeup: 40 files: 40 uploaded/);
  });

  it('a token refused in the middle of a run stops the files in flight too', async () => {
    const root = path.join(bed.work, 'refused-midway');
    fs.mkdirSync(root);
    const files = await Promise.all([1, 2, 3].map((i) => makeFile(path.join(root, `big${i}.bin`), 2 * MiB, i)));
    // One session is refused (the token was revoked); the other two files are on their way, slowly.
    bed.sb.script({ route: 'memorylake.create', status: 401, body: { error: { message: 'API key revoked', type: 'authentication_error' } }, times: 1 });
    const finalized = bed.sb.stats().finalized.length;
    const args = ['put', ...files, '-p', 'memorylake'];
    const r = await runCli([...args, '--limit-rate', '512KiB/s'], { env: bed.env });
    expect(r.code, r.stderr).toBe(3);
    // The files in flight finish their parts first (as on Ctrl-C): plain progress lines may come meanwhile.
    const said = r.stderr.trim().split('\n').filter((l) => !/^lakeup: (big\d\.bin: [\d.]+%|\d+\/3 files, )/.test(l));
    expect(said, r.stderr).toEqual([expect.stringMatching(/^lakeup: error: MemoryLake refused .*HTTP 401 API key revoked.*; the run stopped: 3 of 3 files not sent$/)]);
    expect(bed.sb.stats().finalized.length - finalized, 'a file finished after the refusal').toBe(0);

    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/lakeup: 3 files: 3 uploaded/);
  });

  it('the parts in flight after the refusal get the grace Ctrl-C gives them, no more: the run ends within it on a slow link', { timeout: 60_000 }, async () => {
    const root = path.join(bed.work, 'refused-slow');
    fs.mkdirSync(root);
    const files = await Promise.all([1, 2].map((i) => makeFile(path.join(root, `slow${i}.bin`), 20 * MiB, 10 + i)));
    files.push(await makeFile(path.join(root, 'small.bin'), 256 * 1024, 13));
    // The small file's finalize is refused once its part, sent beside the big ones' (128 KiB/s
    // shared: a 5 MiB part would take minutes), is in: theirs are on their way.
    bed.sb.script({ route: 'memorylake.item', status: 401, body: { error: { message: 'API key revoked', type: 'authentication_error' } }, times: 1 });
    // Killed after 50 s: the big files' parts in flight alone would take minutes, the grace is GRACE_MS.
    expect(GRACE_MS).toBeLessThan(30_000);
    const r = await runCli(['put', ...files, '-p', 'memorylake', '--limit-rate', '128KiB/s'], { env: bed.env, timeoutMs: 50_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(3);
    expect(errorLines(r.stderr), r.stderr).toEqual([expect.stringMatching(/HTTP 401 API key revoked.*; the run stopped: 3 of 3 files not sent$/)]);
  });

  it('--json: the refusal is one line on stdout too, about the run (no file)', async () => {
    const { root } = makeTree('refused-json', 30);
    const r = await runCli(['put', root, '-r', '-p', 'copera', '--json'], { env: { ...bed.env, LAKEUP_TOKEN: WRONG } });
    expect(r.code, r.stderr).toBe(3);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(jsonLines(r)).toEqual([{ ok: false, error: { kind: 'auth', message: expect.stringMatching(/HTTP 401.*the run stopped: 30 of 30 files not sent$/) } }]);
  });

  it.skipIf(!hasScript)('on a real terminal the user sees the refusal once', async () => {
    const { root } = makeTree('refused-tty', 300);
    const r = await runInPty(['put', root, '-r', '-p', 'memorylake'], { env: { ...bed.env, LAKEUP_TOKEN: WRONG } }).result;
    expect(r.code, r.raw).toBe(3);
    const seen = screen(r.raw).filter((l) => /HTTP 401|refused|error:/.test(l));
    expect(seen, r.raw).toHaveLength(1);
    expect(seen[0]).toMatch(/^lakeup: error: MemoryLake refused .*HTTP 401.*; the run stopped: 300 of 300 files not sent$/);
    expect(r.raw).not.toContain(WRONG);
  });
});

describe('a drive folder that cannot be made', () => {
  /** A tree whose folder `a` cannot be made in MemoryLake: a file named `a` is where it goes. */
  function blockedTree(name: string, n: number, under: number): { root: string; files: string[] } {
    const tree = makeTree(name, n, under);
    const [top] = bed.sb.seed([{ provider: 'memorylake', type: 'folder', name }]);
    bed.sb.seed([{ provider: 'memorylake', type: 'file', name: 'a', parentId: top.id, size: 1 }]);
    return tree;
  }

  it('said once with the number of files it held back; those count as failed; the rest is sent (exit 1)', async () => {
    const { root } = blockedTree('blocked', 300, 250);
    const r = await runCli(['put', root, '-r', '-p', 'memorylake'], { env: bed.env });
    expect(r.code, r.stderr).toBe(1);
    const errors = errorLines(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^lakeup: error: folder blocked\/a: .*409.*; the 250 files in it were not sent$/);
    expect(r.stderr).toMatch(/lakeup: 300 files: 50 uploaded, 250 failed/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(bed.sb.stats().finalized.filter((f) => f.path?.includes(`${path.sep}blocked${path.sep}`))).toHaveLength(50);
  });

  it('--json: still one line on stderr, and each held-back file has its failure line on stdout', async () => {
    const { root } = blockedTree('blocked-json', 20, 12);
    const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
    const failed = jsonLines(r).filter((l) => l.ok === false);
    expect(failed).toHaveLength(12);
    for (const l of failed) expect(l).toMatchObject({ file: expect.stringMatching(/blocked-json[\\/]a[\\/]/), error: { kind: 'conflict' } });
  });

  it('Copera refusing to make a folder: said once, every file under it counted failed', async () => {
    const { root } = makeTree('refused-folder', 30, 20);
    // Refused once: no file under it may go on to make it again meanwhile (that was a line per file).
    bed.sb.script({ route: 'copera.folder', status: 400, body: { error: 'invalid folder name', code: 'INVALID_ARGUMENT' }, times: 1 });
    const r = await runCli(['put', root, '-r', '-p', 'copera'], { env: bed.env });
    expect(r.code, r.stderr).toBe(1);
    const errors = errorLines(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^lakeup: error: folder refused-folder(\/a)?: .*400.*; the (30|20) files in it were not sent$/);
    const held = Number(/the (\d+) files/.exec(errors[0])![1]);
    expect(r.stderr).toMatch(new RegExp(`lakeup: 30 files: ${30 - held} uploaded, ${held} failed`));
  });

  it.skipIf(!hasScript)('on a real terminal the user sees it once', async () => {
    const { root } = blockedTree('blocked-tty', 300, 250);
    const r = await runInPty(['put', root, '-r', '-p', 'memorylake'], { env: bed.env }).result;
    expect(r.code, r.raw).toBe(1);
    const seen = screen(r.raw).filter((l) => /HTTP 409|error:/.test(l));
    expect(seen, r.raw).toHaveLength(1);
    expect(seen[0]).toMatch(/folder blocked-tty\/a: .*; the 250 files in it were not sent$/);
  });
});

// Seen on a terminal: files named on the command line with a --parent the drive does not have
// printed the same 404 once per file (each asks for the folder's listing in turn).
describe('a destination folder the API will not list', () => {
  it.skipIf(!hasScript).each(['memorylake', 'copera'])('files into a --parent that is not there: one line on a real terminal, every file failed (%s)', async (provider) => {
    const { files } = makeTree(`no-parent-${provider}`, 5);
    const parent = provider === 'copera' ? 'abcdefabcdefabcdefabcdef' : 'sc-nosuchfolder:0';
    const r = await runInPty(['put', ...files, '-p', provider, '--parent', parent], { env: bed.env }).result;
    expect(r.code, r.raw).toBe(1);
    const seen = screen(r.raw).filter((l) => /HTTP 404|error:/.test(l));
    expect(seen, r.raw).toHaveLength(1);
    expect(seen[0]).toMatch(/^lakeup: error: .*refused to list folder .*404.*; the 5 files in it were not sent$/);
    expect(screen(r.raw).join('\n')).toMatch(/lakeup: 5 files: 0 uploaded, 5 failed/);
  });

  it('--json: one line on stderr, a failure line per file on stdout', async () => {
    const { root } = makeTree('no-parent-json', 6, 3);
    const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--parent', 'sc-nosuchfolder:0', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
    expect(jsonLines(r).filter((l) => l.ok === false)).toHaveLength(6);
  });
});

// Seen on a terminal: the same folder sent by two commands at once sharing a state folder; the second
// one said the run was another's, then 'lakeup: 3 files: 0 uploaded, 3 failed' — yet nothing failed:
// the other one is sending them.
describe('a run another lakeup is driving', () => {
  it('is one line saying none of its files were sent, no "failed" summary, exit 1', async () => {
    const { root } = makeTree('driven-elsewhere', 3);
    const held = bed.sb.stats().held;
    bed.sb.hold({ route: 'copera.finalize', when: 'before' }); // the first run holds its lock meanwhile
    const first = startCli(['put', root, '-r', '-p', 'copera'], { env: bed.env });
    try {
      await waitFor('the first run to reach a finalize', () => bed.sb.stats().held > held);
      const r = await runCli(['put', root, '-r', '-p', 'copera'], { env: bed.env });
      expect(r.code, r.stderr).toBe(1);
      expect(errorLines(r.stderr), r.stderr).toEqual([expect.stringMatching(/^lakeup: error: another lakeup \(pid \d+\) is already running this upload.*: none of its 3 files were sent by this one$/)]);
      expect(r.stderr).not.toMatch(/failed/);
    } finally {
      first.kill('SIGKILL');
      await first.result;
    }
  });
});
