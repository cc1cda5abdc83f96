// The same command run twice leaves one copy of an unchanged file (issue 20, items 1 and 2), over
// real sockets against the sandbox: the ledger on the same machine (no API call at all), the drive's
// listing and content comparison on a fresh state folder (x_attrs, the multipart ETag, Copera's
// times), a same-size change, a same-mtime change, --checksum and --again.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });
type Provider = 'memorylake' | 'copera';

const apiCalls = () => Object.values(bed.sb.stats().apiCalls).reduce((n, c) => n + c, 0);
const finalized = (provider: Provider, name: RegExp) => bed.sb.stats().finalized.filter((f) => f.provider === provider && name.test(f.name));
/** A state folder of its own: what a CI job on a fresh machine starts with. */
const freshState = () => bed.newState('fresh-').env;

/** Rewrites a file in place with other bytes of the same size (byte `at` flipped); `keepMtime` puts its mtime back (as `touch -r` would). */
function rewriteSameSize(file: string, keepMtime: boolean, at = 0): void {
  const st = fs.statSync(file);
  const buf = fs.readFileSync(file);
  buf[at] ^= 0xff;
  fs.writeFileSync(file, buf);
  if (keepMtime) fs.utimesSync(file, st.atimeMs / 1000, st.mtimeMs / 1000);
}

/** A file whose mtime is exactly representable (half a second past a second), so putting it back is exact. */
async function fileAt(name: string, size: number, seed: number): Promise<string> {
  const file = await makeFile(path.join(bed.work, name), size, seed);
  const t = Math.floor(Date.now() / 1000) - 60 + 0.5;
  fs.utimesSync(file, t, t);
  return file;
}

describe.each(['memorylake', 'copera'] as const)('running the same put again (%s)', (provider) => {
  const size = provider === 'copera' ? 12 * MiB : 3 * MiB;

  it('on the same machine: an unchanged single file costs no API call and is not sent again', async () => {
    const name = `same-${provider}.bin`;
    const file = await makeFile(path.join(bed.work, name), size, 11);
    const first = await runCli(['put', file, '-p', provider, '--json'], { env: bed.env });
    expect(first.code, first.stderr).toBe(0);
    const id = jsonLines(first).pop()!.id;

    const calls = apiCalls();
    const again = await runCli(['put', file, '-p', provider], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`✔ ${file}: already uploaded → ${name} (${id})`);
    expect(apiCalls() - calls).toBe(0);
    expect(finalized(provider, new RegExp(`^same-${provider}`))).toHaveLength(1);
  });

  it('on a fresh state folder: a folder and a single file are found in the drive, one listing per folder', async () => {
    const root = path.join(bed.work, `tree-${provider}`);
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    await makeFile(path.join(root, 'a.txt'), 1000, 1);
    await makeFile(path.join(root, 'sub', 'b.txt'), 2000, 2);
    const single = await makeFile(path.join(bed.work, `single-${provider}.bin`), size, 12);
    for (const args of [[root, '-r'], [single]]) {
      const first = await runCli(['put', ...args, '-p', provider], { env: bed.env });
      expect(first.code, first.stderr).toBe(0);
    }
    const sent = bed.sb.stats().finalized.length;

    const rerun = await runCli(['put', root, '-r', '-p', provider, '--json'], { env: freshState() });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(jsonLines(rerun).filter((l) => l.reason === 'exists').map((l) => l.name).sort()).toEqual(['a.txt', 'b.txt']);
    const one = await runCli(['put', single, '-p', provider, '--json'], { env: freshState() });
    expect(one.code, one.stderr).toBe(0);
    expect(jsonLines(one).pop()).toMatchObject({ skipped: true, reason: 'exists', name: path.basename(single) });
    expect(bed.sb.stats().finalized.length).toBe(sent);
  });

  it('a same-size change is sent again, on the same machine and on a fresh one', async () => {
    const name = `changed-${provider}.bin`;
    const file = await makeFile(path.join(bed.work, name), size, 13);
    expect((await runCli(['put', file, '-p', provider], { env: bed.env })).code).toBe(0);
    rewriteSameSize(file, false);
    // The file's time must be after the item's for Copera's rule to see a change: a real edit's is.
    const later = new Date(Date.now() + 60 * 60_000);
    fs.utimesSync(file, later, later);
    const same = await runCli(['put', file, '-p', provider, '--json'], { env: bed.env });
    expect(same.code, same.stderr).toBe(0);
    expect(jsonLines(same).pop()).toMatchObject({ ok: true, parts: expect.any(Number) });
    rewriteSameSize(file, false, 1);
    fs.utimesSync(file, new Date(Date.now() + 2 * 60 * 60_000), new Date(Date.now() + 2 * 60 * 60_000));
    const fresh = await runCli(['put', file, '-p', provider, '--json'], { env: freshState() });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(jsonLines(fresh).pop()).toMatchObject({ ok: true, parts: expect.any(Number) });
    expect(finalized(provider, new RegExp(`^changed-${provider}`))).toHaveLength(3);
  });

  it('--again sends an unchanged file again: a deliberate second copy', async () => {
    const name = `again-${provider}.bin`;
    const file = await makeFile(path.join(bed.work, name), 1000, 14);
    expect((await runCli(['put', file, '-p', provider], { env: bed.env })).code).toBe(0);
    const again = await runCli(['put', file, '-p', provider, '--again', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(jsonLines(again).pop()!.name).not.toBe(name);
    expect(finalized(provider, new RegExp(`^again-${provider}`))).toHaveLength(2);
  });
});

describe('a same-mtime change (same size, mtime put back)', () => {
  it('on the same machine the moved ctime makes lakeup hash the file, and it is sent again', async () => {
    const file = await fileAt('mtime-same.bin', 3 * MiB, 21);
    expect((await runCli(['put', file, '-p', 'memorylake'], { env: bed.env })).code).toBe(0);
    rewriteSameSize(file, true);
    const r = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r).pop()).toMatchObject({ ok: true, name: 'mtime-same_1.bin' });
  });

  it('on a fresh machine the recorded mtime agrees, so it takes --checksum (the SHA-256 in x_attrs) to see it', async () => {
    const file = await fileAt('mtime-fresh.bin', 3 * MiB, 22);
    expect((await runCli(['put', file, '-p', 'memorylake'], { env: bed.env })).code).toBe(0);
    rewriteSameSize(file, true);
    const cheap = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: freshState() });
    expect(jsonLines(cheap).pop()).toMatchObject({ skipped: true, reason: 'exists' });
    const exact = await runCli(['put', file, '-p', 'memorylake', '--checksum', '--json'], { env: freshState() });
    expect(exact.code, exact.stderr).toBe(0);
    expect(jsonLines(exact).pop()).toMatchObject({ ok: true, name: 'mtime-fresh_1.bin' });
  });
});

describe('MemoryLake items lakeup did not make (no x_attrs): the multipart ETag decides', () => {
  /** S3's ETag of the file in parts of `part` bytes. */
  function etagOf(file: string, part: number): string {
    const buf = fs.readFileSync(file);
    const h = createHash('md5');
    let n = 0;
    for (let at = 0; at < buf.length; at += part, n++) h.update(createHash('md5').update(buf.subarray(at, at + part)).digest());
    return `${h.digest('hex')}-${n}`;
  }

  it('an item whose ETag is the file’s under a layout the server could use is the file; another ETag of the same size is not', async () => {
    const size = 12 * MiB + 5;
    const same = await makeFile(path.join(bed.work, 'etag-same.bin'), size, 31);
    const other = await makeFile(path.join(bed.work, 'etag-other.bin'), size, 32);
    const [folder] = bed.sb.seed([{ provider: 'memorylake', type: 'folder', name: 'etag-check' }]);
    bed.sb.seed([
      // 3 parts of 5 MiB: one of the layouts lakeup derives from "-3" and the size.
      { provider: 'memorylake', type: 'file', name: 'etag-same.bin', parentId: folder.id, size, etag: etagOf(same, 5 * MiB) },
      { provider: 'memorylake', type: 'file', name: 'etag-other.bin', parentId: folder.id, size, etag: etagOf(same, 5 * MiB) },
    ]);
    const r = await runCli(['put', same, other, '-p', 'memorylake', '--parent', folder.id, '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r);
    expect(lines.find((l) => l.file === same)).toMatchObject({ skipped: true, reason: 'exists' });
    expect(lines.find((l) => l.file === other)).toMatchObject({ ok: true, name: 'etag-other_1.bin' });
  });
});
