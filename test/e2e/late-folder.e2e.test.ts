// A folder creation still under way at the server when lakeup is killed (found by the kill-anywhere
// soak). MemoryLake folders are made with 'deny', so whichever of the late creation and the rerun's
// comes second is refused and the rerun uses the other. Copera has no conflict strategy for folders
// (a duplicate name is renamed, "photos (1)"): when the late creation lands between the rerun's
// lookup and its own creation, the rerun's folder is the renamed one, and the files must still go
// into the folder of the right name.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEDGER_FILE } from '../../src/state/ledger.js';
import type { TapCall } from '../helpers/api-tap.mjs';
import { startCli } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { drivePath } from '../helpers/sandbox.js';
import { useTappedSandboxBed } from '../helpers/sandbox-bed.js';
import { gate } from '../helpers/wait.js';

const bed = useTappedSandboxBed();

const next = (event: 'server-busy' | 'answered', moment: TapCall['moment']): Promise<TapCall> => bed.nextCall(event, (c) => c.moment === moment);

describe.each(['memorylake', 'copera'] as const)('a folder creation still at the server when lakeup was killed (%s)', (provider) => {
  it('lands between the rerun’s lookup and its own creation: the files go into the folder of the right name', async () => {
    const root = path.join(bed.work, `late-folder-${provider}`);
    fs.mkdirSync(root, { recursive: true });
    const files = [await makeFile(path.join(root, 'one.txt'), 1000, 1), await makeFile(path.join(root, 'two.txt'), 2000, 2)];
    const args = ['put', root, '-r', '-p', provider, '-j', '1', '--json'];

    // The first run's folder creation reaches the server, which has not made it yet; the run is killed.
    const first = gate();
    bed.tap.slow('folder', { until: first.promise });
    const busy = next('server-busy', 'folder');
    const child = startCli(args, { env: bed.env });
    await busy;
    child.kill('SIGKILL');
    await child.result;
    bed.tap.reset();

    // The rerun finds no folder and creates one; before the server gets to it, the first is made.
    const second = gate();
    bed.tap.slow('folder', { until: second.promise });
    const rerunBusy = next('server-busy', 'folder');
    const rerun = startCli(args, { env: bed.env });
    await rerunBusy;
    const landed = next('answered', 'folder');
    first.open();
    await landed;
    second.open();
    const r = await rerun.result;
    expect(r.code, r.stderr).toBe(0);
    await bed.tap.idle();

    for (const f of files) {
      const rel = `late-folder-${provider}/${path.basename(f)}`;
      const there = bed.sb.stats().finalized.filter((x) => x.provider === provider && x.path && drivePath(bed.sb, x) === rel);
      expect(there, rel).toHaveLength(1);
      expect(await sha256File(there[0].path!)).toBe(await sha256File(f));
    }
    // Nothing went into a renamed folder.
    const stray = bed.sb.stats().finalized.filter((x) => x.provider === provider && x.path?.includes(`late-folder-${provider} (`));
    expect(stray).toEqual([]);
    expect(fs.readdirSync(bed.stateDir).filter((n) => n !== LEDGER_FILE)).toEqual([]);
  });
});
