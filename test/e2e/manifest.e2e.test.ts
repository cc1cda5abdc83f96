// --manifest FILE: every file's outcome as NDJSON (uploaded, already there, skipped, failed), in
// FILE.partial as the run goes, renamed to FILE when it ends; a killed run leaves only the partial.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import type { TapCall } from '../helpers/api-tap.mjs';
import { useTappedSandboxBed } from '../helpers/sandbox-bed.js';
import { gate, waitFor } from '../helpers/wait.js';

const bed = useTappedSandboxBed();

const records = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const byName = (rs: Array<Record<string, unknown>>) => Object.fromEntries(rs.map((r) => [path.basename(String(r.file)), r]));

describe('--manifest', () => {
  it.each(['memorylake', 'copera'])('records every file of a run on %s, and a rerun replaces it', async (provider) => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'man-'));
    const tree = path.join(dir, 'tree');
    fs.mkdirSync(tree);
    await makeFile(path.join(tree, 'a.bin'), 6 * 1024 * 1024, 1);
    await makeFile(path.join(tree, 'b.bin'), 1000, 2);
    fs.writeFileSync(path.join(tree, '.gitkeep'), '');
    const manifest = path.join(dir, 'out.ndjson');
    const args = ['put', tree, path.join(dir, 'nope.bin'), '-r', '-p', provider, '--manifest', manifest];

    const first = await runCli(args, { env: bed.env });
    expect(first.code, first.stderr).toBe(2);
    expect(fs.existsSync(`${manifest}.partial`)).toBe(false);
    const one = byName(records(manifest));
    expect(Object.keys(one).sort()).toEqual(['.gitkeep', 'a.bin', 'b.bin', 'nope.bin']);
    expect(one['a.bin']).toMatchObject({ status: 'uploaded', ok: true, name: 'a.bin', size: 6 * 1024 * 1024 });
    expect(one['a.bin'].id).toEqual(expect.any(String));
    // The checksum of what was sent: the multipart ETag of its parts (MD5 of their MD5s).
    expect(one['a.bin'].etag).toMatch(/^[0-9a-f]{32}-\d+$/);
    expect(one['b.bin']).toMatchObject({ status: 'uploaded', size: 1000 });
    expect(one['.gitkeep']).toMatchObject({ status: 'skipped', reason: 'empty' });
    expect(one['nope.bin']).toMatchObject({ status: 'failed', ok: false, error: { kind: 'input' } });
    expect(String((one['nope.bin'].error as { message: string }).message)).toMatch(/no such file/);
    // The manifest does not change what stdout says: result lines for people, no JSON.
    expect(first.stdout).not.toMatch(/^\{/m);

    // The same command again: every file is already there (the ledger of finished uploads says so).
    const again = await runCli(args, { env: bed.env });
    expect(again.code).toBe(2);
    const two = byName(records(manifest));
    expect(Object.keys(two)).toHaveLength(4);
    expect(two['a.bin']).toMatchObject({ status: 'already-there', reason: 'already-uploaded', id: one['a.bin'].id });
    expect(two['b.bin']).toMatchObject({ status: 'already-there', reason: 'already-uploaded', id: one['b.bin'].id });
  });

  it('is written as the run goes, and a killed run leaves only FILE.partial (an earlier FILE is gone)', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'man-kill-'));
    const a = await makeFile(path.join(dir, 'a.bin'), 1000, 1);
    const b = await makeFile(path.join(dir, 'b.bin'), 1000, 2);
    const manifest = path.join(dir, 'out.ndjson');
    fs.writeFileSync(manifest, '{"status":"uploaded","file":"from an earlier run"}\n');
    const held = gate();
    const onRequest = (c: TapCall) => {
      if (c.moment === 'session') bed.tap.slow('session', c.name === 'b.bin' ? { until: held.promise } : {});
    };
    bed.tap.events.on('request', onRequest);
    try {
      const child = startCli(['put', a, b, '-p', 'copera', '--manifest', manifest], { env: bed.env });
      const partial = `${manifest}.partial`;
      await waitFor("a.bin's record", () => fs.existsSync(partial) && records(partial).length === 1);
      expect(fs.existsSync(manifest)).toBe(false);
      child.kill('SIGKILL');
      await child.result;
      expect(records(partial)).toEqual([expect.objectContaining({ status: 'uploaded', name: 'a.bin' })]);
      expect(fs.existsSync(manifest)).toBe(false);
    } finally {
      held.open();
      bed.tap.events.off('request', onRequest);
    }
  });

  it('that cannot be written is one line and exit 2, before anything is sent', async () => {
    const dir = fs.mkdtempSync(path.join(bed.work, 'man-bad-'));
    const a = await makeFile(path.join(dir, 'a.bin'), 1000, 1);
    const before = bed.tap.counts();
    const r = await runCli(['put', a, '-p', 'copera', '--manifest', path.join(dir, 'no', 'such', 'out.ndjson')], { env: bed.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^lakeup: error: --manifest: cannot write .*out\.ndjson \(ENOENT\)$/)]);
    expect(bed.tap.counts()).toEqual(before);
  });
});
