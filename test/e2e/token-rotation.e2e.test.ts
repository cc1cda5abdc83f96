// A run's identity survives a new token of the same account, and never crosses into another account: 40 files,
// killed after a dozen, then the same command with a rotated token (every file once in the drive, none twice), or
// with another account's token (a run of its own, in its own drive; the first account's journal stays for it).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli, startCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const ROTATED = 'rotated-token-same-account';
const OTHER = 'token-of-another-account';
// Answers 60 ms away: the 40 files take a few rounds, so the run can be killed after a dozen.
const bed = useSandboxBed({ moreTokens: [ROTATED], otherAccountTokens: [OTHER], faults: { latencyMs: 60 } });

async function makeFolder(name: string, n: number): Promise<string> {
  const root = path.join(bed.work, name);
  fs.mkdirSync(root, { recursive: true });
  for (let i = 0; i < n; i++) await makeFile(path.join(root, `f${String(i).padStart(2, '0')}.txt`), 1000 + i, i + 1);
  return root;
}

const journals = () => fs.readdirSync(bed.stateDir).filter((n) => n.endsWith('.run.ndjson'));
const journalDone = () => journals().reduce((n, j) => n + fs.readFileSync(path.join(bed.stateDir, j), 'utf8').split('\n').filter((l) => l.startsWith('{"t":"done"')).length, 0);

/** The names finalized into `folder` of one account's drive (account 0: the main one), with repeats. */
function namesIn(provider: string, folder: string, account: number): string[] {
  const base = path.join(bed.sb.dir, ...(account === 0 ? [] : [`account-${account}`]), provider, folder);
  return bed.sb
    .stats()
    .finalized.filter((f) => f.provider === provider && f.path && path.dirname(f.path) === base)
    .map((f) => f.name)
    .sort();
}

/** Starts the run and SIGKILLs it once its journal records at least 12 finished files (of 40). */
async function killAfterADozen(args: string[]): Promise<number> {
  const child = startCli(args, { env: bed.env });
  await waitFor('12 finished files', () => journalDone() >= 12 || child.exitCode !== null);
  child.kill('SIGKILL');
  expect((await child.result).signal, 'killed before it finished').toBe('SIGKILL');
  const done = journalDone();
  expect(done).toBeLessThan(40);
  return done;
}

const expected = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}.txt`);

describe('a run and the token it is sent with', () => {
  it.each(['memorylake', 'copera'])('%s: a new token of the same account resumes the run: 40 files in the drive, none twice', async (provider) => {
    const root = await makeFolder(`rotated-${provider}`, 40);
    const args = ['put', root, '-r', '-p', provider, '--json'];
    const done = await killAfterADozen(args);

    const again = await runCli(args, { env: { ...bed.env, LAKEUP_TOKEN: ROTATED } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/started with another token of the same account/);
    expect(jsonLines(again).filter((l) => l.skipped === true)).toHaveLength(done);
    expect(namesIn(provider, path.basename(root), 0)).toEqual(expected);
    expect(journals()).toEqual([]);
  });

  it("another account's token does not adopt the run: its own run, its own drive; the first account's run still resumes", async () => {
    const root = await makeFolder('two-accounts', 40);
    const args = ['put', root, '-r', '-p', 'memorylake', '--json'];
    const done = await killAfterADozen(args);
    const [first] = journals();

    const other = await runCli(args, { env: { ...bed.env, LAKEUP_TOKEN: OTHER } });
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).toMatch(/a run of this command for another account is pending/);
    expect(jsonLines(other).filter((l) => l.skipped === true)).toEqual([]);
    expect(namesIn('memorylake', 'two-accounts', 1)).toEqual(expected);
    expect(journals()).toEqual([first]); // its own went when it was complete; the first account's stays

    const back = await runCli(args, { env: bed.env });
    expect(back.code, back.stderr).toBe(0);
    expect(jsonLines(back).filter((l) => l.skipped === true)).toHaveLength(done);
    expect(namesIn('memorylake', 'two-accounts', 0)).toEqual(expected);
    expect(journals()).toEqual([]);
  });
});

describe("a big file's state and another account", () => {
  it.each(['memorylake', 'copera'])("%s: another account's token does not finish the first account's session: it uploads the file anew into its own drive", async (provider) => {
    const { makeFile: make, sha256File } = await import('../helpers/files.js');
    const file = await make(path.join(bed.work, `big-${provider}.bin`), 24 * 1024 * 1024, 21);
    // Two parts at a time, so that parts finish one after another and the kill finds some done.
    const size = provider === 'copera' ? ['--part-size', '5MiB'] : []; // MemoryLake's server decides (5 MiB)
    const args = ['put', file, '-p', provider, ...size, '--limit-rate', '12MiB/s', '-c', '2'];
    const child = startCli(args, { env: bed.env });
    await waitFor('2 finished parts', () => {
      const states = fs.readdirSync(bed.stateDir).filter((n) => /^[0-9a-f]{16}\.json$/.test(n));
      return states.length > 0 && JSON.parse(fs.readFileSync(path.join(bed.stateDir, states[0]!), 'utf8')).done.length >= 2;
    });
    child.kill('SIGKILL');
    await child.result;

    const other = await runCli(['put', file, '-p', provider, ...size, '--json'], { env: { ...bed.env, LAKEUP_TOKEN: OTHER } });
    expect(other.code, other.stderr).toBe(0);
    const stored = bed.sb.stats().finalized.filter((f) => f.provider === provider && f.name === `big-${provider}.bin`);
    expect(stored.map((f) => path.relative(bed.sb.dir, f.path!).split(path.sep)[0])).toEqual(['account-1']);
    expect(await sha256File(stored[0]!.path!)).toBe(await sha256File(file));
  });
});
