import { request } from 'undici';
import { describe, expect, it, vi } from 'vitest';

import { buildProgram } from '../../src/cli/program.js';
import { runSandbox } from '../../src/cli/sandbox-command.js';
import { api, apiGet, CP, CP_FILES, ML_ITEMS, sandbox, startSandboxCommand } from './helpers.js';

describe('seed (test control)', () => {
  it('places items straight into the drive, parents before children, over the API and POST /_sandbox/seed', async () => {
    const sb = await sandbox();
    const [dir, file] = sb.seed([
      { provider: 'memorylake', type: 'folder', name: 'docs', id: 'sc-test:docs' },
      { provider: 'memorylake', type: 'file', name: 'a.pdf', parentId: 'sc-test:docs', size: 42, etag: 'abc-2', xAttrs: { k: 'v' }, createdAt: '2024-05-01T00:00:00Z' },
    ]);
    expect(dir).toEqual({ id: 'sc-test:docs', name: 'docs' });
    const listed = await apiGet(sb, `${ML_ITEMS}/sc-test%3Adocs/children`);
    expect(listed.json.data.items).toEqual([
      expect.objectContaining({ item_id: file!.id, name: 'a.pdf', size: 42, etag: 'abc-2', x_attrs: { k: 'v' }, created_at: '2024-05-01T00:00:00.000Z', parent_item_id: 'sc-test:docs' }),
    ]);
    // A real upload can go into a seeded folder, and its names conflict with seeded ones.
    const folderAgain = await api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: 'MY_SPACE', name: 'docs', name_conflict_strategy: 'deny' });
    expect(folderAgain.status).toBe(409);

    const r = await request(`${sb.origin}/_sandbox/seed`, { method: 'POST', body: JSON.stringify([{ provider: 'copera', type: 'file', name: 'c.txt', size: 3 }]) });
    expect(r.statusCode).toBe(200);
    const { items } = (await r.body.json()) as { items: { id: string }[] };
    expect((await apiGet(sb, `${CP_FILES}/${items[0]!.id}`)).json).toMatchObject({ name: 'c.txt', size: 3, parent: null });
    // Seeded items are not uploads nor API-created folders.
    expect(sb.stats()).toMatchObject({ finalized: [], foldersCreated: [], apiCalls: { 'memorylake.children': 1, 'memorylake.item': 1, 'copera.get': 1 } });
  });

  it('refuses a bad batch as a whole, naming the item and the problem', async () => {
    const sb = await sandbox();
    const ok = { provider: 'copera' as const, type: 'file' as const, name: 'ok.txt' };
    const cases: [unknown, RegExp][] = [
      [{}, /array/],
      [[ok, { ...ok, provider: 'dropbox' }], /item 1: provider/],
      [[{ ...ok, name: 'a/b' }], /item 0: name/],
      [[{ ...ok, parentId: 'c'.repeat(24) }], /item 0: parent folder/],
      [[{ ...ok, id: 'short' }], /24-hex/],
      [[{ ...ok, type: 'folder', size: 3 }], /only apply to files/],
      [[{ ...ok, createdAt: 'yesterday' }], /createdAt/],
      [[{ ...ok, colour: 'red' }], /unknown field "colour"/],
      [[ok, ok], /item 1: an item named "ok.txt" already exists/],
    ];
    for (const [batch, message] of cases) {
      expect(() => sb.seed(batch as never), JSON.stringify(batch)).toThrow(message);
    }
    const r = await request(`${sb.origin}/_sandbox/seed`, { method: 'POST', body: JSON.stringify([ok, ok]) });
    expect(r.statusCode).toBe(400);
    expect(((await r.body.json()) as { code: string }).code).toBe('INVALID_ARGUMENT');
    // Nothing of the refused batches stayed.
    expect((await apiGet(sb, '/public/v1/drive/tree')).json.totalItems).toBe(0);
    expect(sb.seed([ok])).toHaveLength(1);
  });
});

describe('lakeup sandbox --api-rate', () => {
  it('is listed in --help', () => {
    const sandboxCommand = buildProgram(() => undefined).commands.find((c) => c.name() === 'sandbox')!;
    expect(sandboxCommand.helpInformation()).toMatch(/--api-rate <calls\/s>\s+account-wide API rate limit/);
  });

  it('refuses a value that is not calls per second ≥ 0 as a usage error', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const bad of ['fast', '-1', '']) expect(await runSandbox({ port: '0', apiRate: bad })).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--api-rate: expected calls per second/);
    } finally {
      stderr.mockRestore();
    }
  });

  it('starts a sandbox with the limit and says so', async () => {
    const cmd = await startSandboxCommand({ port: 0, apiRate: 3 });
    const { info } = cmd;
    expect(cmd.err()).toContain('API rate limit 3 calls/s');
    const r = await request(`${info.origin}${CP}/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${info.token}` },
      body: JSON.stringify({ fileName: 'a', fileSize: 1, mimeType: 'a/b' }),
    });
    await r.body.dump();
    expect(r.headers['x-ratelimit-limit']).toBe('3');
    expect(await cmd.stop()).toBe(0);
    const { rm } = await import('node:fs/promises');
    await rm(info.dir, { recursive: true, force: true });
  });
});
