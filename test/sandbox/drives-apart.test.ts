// MemoryLake and Copera are two services: an item of one never takes a name in the other's drive. (The sandbox once
// kept both in one namespace: the demo stored its Copera copy as `sample (1).bin`, a Copera `-r` after a MemoryLake
// one made `tree (1)`, and a MemoryLake run after a Copera one met 409 on every folder.)
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { api, apiGet, bytes, coperaUpload, CP_FOLDERS, CP_TREE, ML_ITEMS, mlUpload, sameBytes, sandbox } from './helpers.js';

const mlFolder = (sb: Parameters<typeof api>[0], name: string) =>
  api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: 'MY_SPACE', name, name_conflict_strategy: 'deny' });

describe("each provider's drive apart", () => {
  it('a MemoryLake file and a Copera file of the same name in the root both keep it, stored apart byte-exact', async () => {
    const sb = await sandbox({ memorylakePartSize: 1024 });
    const a = bytes(3000);
    const b = bytes(2000);
    const ml = await mlUpload(sb, 'sample.bin', a);
    const cp = await coperaUpload(sb, 'sample.bin', b);
    expect(ml.json.data.name).toBe('sample.bin');
    expect(cp.json.name).toBe('sample.bin');
    const [mlDone, cpDone] = sb.stats().finalized;
    expect(mlDone).toMatchObject({ provider: 'memorylake', name: 'sample.bin', path: join(sb.dir, 'memorylake', 'sample.bin') });
    expect(cpDone).toMatchObject({ provider: 'copera', name: 'sample.bin', path: join(sb.dir, 'copera', 'sample.bin') });
    expect(await sameBytes(mlDone!.path!, a)).toBe(true);
    expect(await sameBytes(cpDone!.path!, b)).toBe(true);
    // Each listing holds its own drive's item only.
    const children = await apiGet(sb, `${ML_ITEMS}/MY_SPACE/children?page_size=50`);
    expect(children.json.data.items.map((i: { item_id: string }) => i.item_id)).toEqual([ml.json.data.item_id]);
    const tree = await apiGet(sb, `${CP_TREE}?depth=1`);
    expect(tree.json.root.map((i: { _id: string }) => i._id)).toEqual([cp.json._id]);
    // A second upload of the name is renamed within its own drive only.
    expect((await coperaUpload(sb, 'sample.bin', b)).json.name).toBe('sample (1).bin');
    expect((await mlUpload(sb, 'sample.bin', a)).json.data.name).toBe('sample_1.bin');
  });

  it('a folder of one provider neither renames nor refuses the same folder of the other, in either order', async () => {
    const sb = await sandbox();
    expect((await mlFolder(sb, 'tree')).status).toBe(200);
    expect((await api(sb, CP_FOLDERS, { name: 'tree' })).json.name).toBe('tree');
    expect((await api(sb, CP_FOLDERS, { name: 'photos' })).json.name).toBe('photos');
    const photos = await mlFolder(sb, 'photos');
    expect(photos.status).toBe(200);
    expect(photos.json.data.name).toBe('photos');
    // Within a drive a name is still taken.
    expect((await mlFolder(sb, 'tree')).status).toBe(409);
    expect((await api(sb, CP_FOLDERS, { name: 'tree' })).json.name).toBe('tree (1)');
    expect(readdirSync(join(sb.dir, 'memorylake')).sort()).toEqual(['photos', 'tree']);
    expect(readdirSync(join(sb.dir, 'copera')).sort()).toEqual(['photos', 'tree', 'tree (1)']);
  });
});
