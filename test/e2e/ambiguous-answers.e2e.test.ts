// Non-idempotent calls whose answer is lost after the origin acted (a gateway's 503, a reset):
// finalize and folder creation are never repeated blindly; lakeup looks the item up, so the drive
// ends up with one file and one folder, and the run exits 0.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { isFinalize, startLyingGateway, type Lie } from '../helpers/lying-gateway.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });

const isFolder = (provider: string, method: string, p: string, body: unknown) =>
  method === 'POST' &&
  (provider === 'memorylake' ? p.endsWith('/drives/items') && (body as { item_type?: string })?.item_type === 'folder' : p.endsWith('/drive/folders'));

describe.each([
  ['memorylake', '503'],
  ['copera', '503'],
  ['memorylake', 'reset'],
  ['copera', 'reset'],
] as const)('%s: the answer to finalize is lost (%s) after the file was made', (provider, lie: Lie) => {
  it('looks the item up, reports it (recovered) and makes no second copy', async () => {
    let once = false;
    const gw = await startLyingGateway(bed.sb.origin, (m, p, b) => (!once && isFinalize(provider, m, p, b) ? ((once = true), lie) : undefined));
    try {
      const name = `lost-${provider}-${lie}.bin`;
      const file = await makeFile(path.join(bed.work, name), provider === 'copera' ? 6 * MiB : 3 * MiB, 3);
      const r = await runCli(['put', file, '-p', provider, '--json'], { env: { ...bed.env, LAKEUP_ENDPOINT: gw.origin } });
      expect(r.code, r.stderr).toBe(0);
      expect(gw.lied).toBe(1);
      expect(JSON.parse(r.stdout.trim())).toMatchObject({ ok: true, name, recovered: true });
      expect(bed.sb.stats().finalized.filter((f) => f.provider === provider && f.name.startsWith(`lost-${provider}-${lie}`))).toHaveLength(1);
    } finally {
      await gw.close();
    }
  });
});

describe.each(['memorylake', 'copera'] as const)('%s: the answer to a folder creation is lost after the folder was made', (provider) => {
  it('finds that folder and uses it: one folder, every file in it', async () => {
    let once = false;
    const gw = await startLyingGateway(bed.sb.origin, (m, p, b) => (!once && isFolder(provider, m, p, b) ? ((once = true), '503') : undefined));
    try {
      const root = path.join(bed.work, `gw-tree-${provider}`);
      fs.mkdirSync(root, { recursive: true });
      await makeFile(path.join(root, 'a.txt'), 100, 1);
      await makeFile(path.join(root, 'b.txt'), 200, 2);
      const r = await runCli(['put', root, '-r', '-p', provider, '--json'], { env: { ...bed.env, LAKEUP_ENDPOINT: gw.origin } });
      expect(r.code, r.stderr).toBe(0);
      expect(gw.lied).toBe(1);
      const folders = bed.sb.stats().foldersCreated.filter((f) => f.provider === provider && f.name.startsWith(`gw-tree-${provider}`));
      expect(folders.map((f) => f.name)).toEqual([`gw-tree-${provider}`]);
      const files = bed.sb.stats().finalized.filter((f) => f.provider === provider && f.parentId === folders[0].id);
      expect(files.map((f) => f.name).sort()).toEqual(['a.txt', 'b.txt']);
    } finally {
      await gw.close();
    }
  });
});
