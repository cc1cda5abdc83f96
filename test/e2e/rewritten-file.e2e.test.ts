// A file rewritten in place between an interrupted upload and its rerun, with the same size and its
// modification time put back (cp -p, rsync -t, touch -r, or a coarse file system's clock): the rerun
// must not finalize old parts with new ones. It checks the finished parts' content and sends again
// those that no longer match, so the drive holds exactly the new content.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastJson, runCli, startCli } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { readStates } from '../helpers/outcome.js';
import { storedPath } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed({ memorylakePartSize: 8 * MiB });

const cases = [
  { provider: 'memorylake', args: [] as string[] },
  { provider: 'copera', args: ['--part-size', '8MiB'] },
];

describe('a file rewritten with the same size and modification time after an interruption', () => {
  it.each(cases)('$provider: the rerun sends the parts that changed; the drive holds exactly the new content', async ({ provider, args }) => {
    const file = await makeFile(path.join(bed.work, `rewritten-${provider}.bin`), 24 * MiB, 11);
    // One part at a time, so that the kill lands after two of the three parts.
    const child = startCli(['put', file, '-p', provider, ...args, '--limit-rate', '12MiB/s', '-c', '1'], { env: bed.env });
    const saved = await waitFor('2 finished parts', () => {
      const s = readStates(bed.stateDir)[0];
      return s && s.done.length >= 2 ? s : undefined;
    });
    child.kill('SIGKILL');
    await child.result;
    const finished = readStates(bed.stateDir)[0]!.done.length;
    expect(finished).toBeGreaterThanOrEqual(2);
    expect(finished).toBeLessThan(3);

    // Rewritten in place: same size, new bytes, the old modification time put back.
    const before = fs.statSync(file);
    await makeFile(file, 24 * MiB, 12);
    fs.utimesSync(file, before.atimeMs / 1000, before.mtimeMs / 1000);
    expect(Math.floor(fs.statSync(file).mtimeMs)).toBe(Math.floor(before.mtimeMs));
    expect(fs.statSync(file).size).toBe(before.size);

    const again = await runCli(['put', file, '-p', provider, ...args, '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const out = lastJson(again.stdout);
    expect(await sha256File(storedPath(bed.sb, provider, out.name as string))).toBe(await sha256File(file));
    expect(again.stderr).toMatch(/changed since the interrupted upload/);
    // The parts that changed went again, into the same session.
    const puts = bed.sb.stats().partPuts[saved.session.uploadId] ?? {};
    for (const d of saved.done) expect(puts[String(d.number)], `part ${d.number} sent again`).toBeGreaterThanOrEqual(2);
    expect(readStates(bed.stateDir)).toEqual([]);
  });

  it('a state without ctime and inode (an older lakeup) is checked by content: unchanged, nothing is sent twice', async () => {
    const file = await makeFile(path.join(bed.work, 'old-state.bin'), 24 * MiB, 13);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '12MiB/s', '-c', '1'], { env: bed.env });
    await waitFor('2 finished parts', () => (readStates(bed.stateDir)[0]?.done.length ?? 0) >= 2);
    child.kill('SIGKILL');
    await child.result;
    const name = fs.readdirSync(bed.stateDir).find((f) => /^[0-9a-f]{16}\.json$/.test(f))!;
    const raw = JSON.parse(fs.readFileSync(path.join(bed.stateDir, name), 'utf8'));
    delete raw.file.ctimeMs;
    delete raw.file.ino;
    fs.writeFileSync(path.join(bed.stateDir, name), JSON.stringify(raw));

    const again = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(lastJson(again.stdout).resumed).toBe(true);
    expect(again.stderr).not.toMatch(/changed/);
    const puts = bed.sb.stats().partPuts[raw.session.uploadId] ?? {};
    for (const d of raw.done as Array<{ number: number }>) expect(puts[String(d.number)], `part ${d.number} sent once`).toBe(1);
    expect(await sha256File(storedPath(bed.sb, 'memorylake', lastJson(again.stdout).name as string))).toBe(await sha256File(file));
  });

  it('rewritten during the upload, mtime put back: never finalized, said in one line', async () => {
    const file = await makeFile(path.join(bed.work, 'during.bin'), 24 * MiB, 14);
    const fresh = fs.readFileSync(await makeFile(path.join(bed.work, 'during.new'), 24 * MiB, 15));
    // One part at a time: parts end one after another, and two of three are still to go after the first.
    const child = startCli(['put', file, '-p', 'copera', '--part-size', '8MiB', '--limit-rate', '6MiB/s', '-c', '1'], { env: bed.env });
    await waitFor('a finished part', () => (readStates(bed.stateDir)[0]?.done.length ?? 0) >= 1);
    // Overwritten without truncating (the size never changes, even for a moment), mtime put back.
    const before = fs.statSync(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, fresh, 0, 24 * MiB, 0);
    fs.closeSync(fd);
    fs.utimesSync(file, before.atimeMs / 1000, before.mtimeMs / 1000);
    const r = await child.result;
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/the file changed during the upload/);
    expect(bed.sb.stats().finalized.filter((f) => f.name === 'during.bin')).toEqual([]);
  });
});
