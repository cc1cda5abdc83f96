// Tokens and accounts: more tokens of the main account see its drives; another account's token has drives of its
// own, does not see the main account's items or upload sessions, nor they its; an unknown token is refused.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { api, apiGet, bytes, CP_FILES, ML_ITEMS, ML_UPLOAD, mlUpload, sandbox } from './helpers.js';

describe('accounts of the sandbox', () => {
  it('a rotated token sees the same items; another account sees none of them and keeps its own drive', async () => {
    const sb = await sandbox({ memorylakePartSize: 1024, moreTokens: ['rotated'], otherAccountTokens: ['other'] });
    const made = await mlUpload(sb, 'a.bin', bytes(3000));
    const id = made.json.data.item_id as string;
    expect((await apiGet(sb, `${ML_ITEMS}/${id}`, { token: 'rotated' })).status).toBe(200);
    expect((await apiGet(sb, `${ML_ITEMS}/${id}`, { token: 'other' })).status).toBe(404);
    expect((await apiGet(sb, `${CP_FILES}/${id}`, { token: 'other' })).status).toBe(404);
    expect((await apiGet(sb, `${ML_ITEMS}/${id}`, { token: 'nobody' })).status).toBe(401);

    // The other account's file of the same name is its own (not renamed), stored apart.
    const upload = await api(sb, ML_UPLOAD, { file_size: 10 }, { token: 'other' });
    const { upload_id, part_items } = upload.json.data;
    const { request } = await import('undici');
    const r = await request(part_items[0].upload_url, { method: 'PUT', body: bytes(10) });
    const etag = String(r.headers.etag).replace(/"/g, '');
    await r.body.text();
    const from = { upload_id, part_etags: [{ number: 1, etag }] };
    // Its session is not the main account's to finalize…
    expect((await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'a.bin', from })).status).toBe(404);
    // …and it finalizes into its own drive.
    const theirs = await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'a.bin', from }, { token: 'other' });
    expect(theirs.status).toBe(200);
    expect(theirs.json.data.name).toBe('a.bin');
    expect(sb.stats().finalized.map((f) => f.path)).toEqual([join(sb.dir, 'memorylake', 'a.bin'), join(sb.dir, 'account-1', 'memorylake', 'a.bin')]);
    expect((await apiGet(sb, `${ML_ITEMS}/${theirs.json.data.item_id}`)).status).toBe(404);
  });

  it('tokens must differ between accounts', async () => {
    await expect(sandbox({ moreTokens: ['x'], otherAccountTokens: ['x'] })).rejects.toThrow(/must all differ/);
  });
});
