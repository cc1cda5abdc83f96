// A finalize the server is still carrying out when lakeup is killed (found by the kill-anywhere
// soak). The server has the whole request and acts on it after the client is gone, a little or a
// long while later; a rerun started at once looks for the item before it exists. Whatever the
// order, the file must end up in the drive once: the rerun finalizes the same session again
// (never a new one while the old may still land), and when the server says that session is gone,
// it asks the drive once more before sending the file anew.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEDGER_FILE } from '../../src/state/ledger.js';
import type { TapCall } from '../helpers/api-tap.mjs';
import { runCli, startCli, type CliResult } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { jsonLines } from '../helpers/outcome.js';
import { drivePath } from '../helpers/sandbox.js';
import { useTappedSandboxBed } from '../helpers/sandbox-bed.js';
import { gate } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const bed = useTappedSandboxBed({ memorylakePartSize: 1 * MiB });

type Provider = 'memorylake' | 'copera';

/** The next tap event of this kind for a finalize. */
const nextFinalize = (event: 'server-busy' | 'answered'): Promise<TapCall> => bed.nextCall(event, (c) => c.moment === 'finalize');

/** Files of this provider in the drive under `rel` (a path under the sandbox dir) or a renamed form of it. */
function stored(provider: Provider, rel: string) {
  const dir = path.posix.dirname(rel);
  const base = path.posix.basename(rel);
  const dot = base.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^${dir === '.' ? '' : `${esc(dir)}/`}${esc(stem)}(_\\d+| \\(\\d+\\))?${esc(ext)}$`);
  return bed.sb.stats().finalized.filter((f) => f.provider === provider && f.path && re.test(drivePath(bed.sb, f)));
}

/** Starts `args`, holds its first finalize at the server (not yet carried out), kills it there. */
async function killWithFinalizeAtServer(args: string[]): Promise<{ open: () => void; landed: Promise<TapCall> }> {
  const first = gate();
  bed.tap.slow('finalize', { until: first.promise });
  const busy = nextFinalize('server-busy');
  const child = startCli(args, { env: bed.env });
  await busy;
  child.kill('SIGKILL');
  await child.result;
  bed.tap.reset();
  // The server carries it out whenever the test opens the gate, the client long gone.
  const landed = nextFinalize('answered');
  return { open: first.open, landed };
}

/** How a row puts `file` (in `dir`): as a run of its folder, or alone; and where it lands in the drive. */
function putOf(provider: Provider, inRun: boolean, dir: string, file: string): { args: string[]; rel: string } {
  return inRun
    ? { args: ['put', dir, '-r', '-p', provider, '-j', '1', '--json'], rel: `${path.basename(dir)}/${path.basename(file)}` }
    : { args: ['put', file, '-p', provider, '--json'], rel: path.basename(file) };
}

/** The rerun `again` reported `file` recovered, it is in the drive once under `rel`, and no state is left. */
function expectRecoveredOnce(provider: Provider, rel: string, file: string, again: CliResult): void {
  const there = stored(provider, rel);
  expect(there.map((x) => x.name)).toEqual([path.basename(file)]);
  expect(jsonLines(again.stdout).find((l) => String(l.file).endsWith(path.basename(file)))).toMatchObject({ ok: true, recovered: true, id: there[0].id });
  expect(fs.readdirSync(bed.stateDir).filter((n) => n !== LEDGER_FILE)).toEqual([]);
}

const IN_PROGRESS: Record<Provider, { route: 'memorylake.item' | 'copera.finalize'; body: object }> = {
  memorylake: { route: 'memorylake.item', body: { success: false, message: 'upload is being finalized by another request', error_code: 'UPLOAD_IN_PROGRESS' } },
  copera: { route: 'copera.finalize', body: { error: 'this upload is being finalized by another request', code: 'UPLOAD_IN_PROGRESS' } },
};

describe.each(['memorylake', 'copera'] as const)('a finalize still at the server when lakeup was killed (%s)', (provider) => {
  it('a file of one part in a run: the rerun finalizes the same session; the late finalize then makes nothing', async () => {
    const root = path.join(bed.work, `late-run-${provider}`);
    fs.mkdirSync(root, { recursive: true });
    const files = [await makeFile(path.join(root, 'one.txt'), 1000, 1), await makeFile(path.join(root, 'two.txt'), 2000, 2)];
    const args = ['put', root, '-r', '-p', provider, '-j', '1', '--json'];
    const late = await killWithFinalizeAtServer(args);

    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    late.open();
    await late.landed;
    await bed.tap.idle();
    for (const f of files) {
      const rel = `late-run-${provider}/${path.basename(f)}`;
      expect(stored(provider, rel).map((x) => x.name), rel).toEqual([path.basename(f)]);
      expect(await sha256File(stored(provider, rel)[0].path!)).toBe(await sha256File(f));
    }
    expect(fs.readdirSync(bed.stateDir).filter((n) => n !== LEDGER_FILE)).toEqual([]);
  });

  it.each([
    ['a file of several parts (own state file)', false],
    ['a file of one part in a run (journal only)', true],
  ] as const)('%s: the late finalize lands between the lookup and the new finalize: found on a second look, recovered', async (_what, inRun) => {
    const dir = path.join(bed.work, `late-between-${provider}-${inRun ? 'run' : 'big'}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = inRun
      ? await makeFile(path.join(dir, 'small.txt'), 1500, 3)
      : await makeFile(path.join(dir, `big-${provider}.bin`), provider === 'copera' ? 12 * MiB : 3 * MiB, 4);
    const { args, rel } = putOf(provider, inRun, dir, file);
    const late = await killWithFinalizeAtServer(args);

    // The rerun looks (nothing there yet) and sends finalize again; before the server gets to it,
    // the first one is carried out: the session is used up.
    const second = gate();
    bed.tap.slow('finalize', { until: second.promise });
    const busy = nextFinalize('server-busy');
    const rerun = startCli(args, { env: bed.env });
    await busy;
    late.open();
    await late.landed;
    second.open();
    const again = await rerun.result;
    expect(again.code, again.stderr).toBe(0);
    await bed.tap.idle();

    expectRecoveredOnce(provider, rel, file, again);
  });

  it.each([
    ['a file of several parts (own state file)', false],
    ['a file of one part in a run (journal only)', true],
  ] as const)('%s: the server is carrying the late finalize out when the rerun finalizes (409): it waits, and finds the item', async (_what, inRun) => {
    const dir = path.join(bed.work, `late-busy-${provider}-${inRun ? 'run' : 'big'}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = inRun
      ? await makeFile(path.join(dir, 'small.txt'), 1700, 5)
      : await makeFile(path.join(dir, `busy-${provider}.bin`), provider === 'copera' ? 12 * MiB : 3 * MiB, 6);
    const { args, rel } = putOf(provider, inRun, dir, file);
    const late = await killWithFinalizeAtServer(args);

    // The rerun's finalize is answered 409 "being finalized by another request": that other request
    // is the late one, which the server completes right after.
    bed.sb.script({ route: IN_PROGRESS[provider].route, status: 409, body: IN_PROGRESS[provider].body });
    const refused = bed.nextCall('answered', (c) => c.moment === 'finalize' && c.status === 409);
    const rerun = startCli(args, { env: bed.env });
    await refused;
    late.open();
    await late.landed;
    const again = await rerun.result;
    expect(again.code, again.stderr).toBe(0);
    await bed.tap.idle();

    expectRecoveredOnce(provider, rel, file, again);
  });
});
