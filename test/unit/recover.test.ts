import { describe, expect, it } from 'vitest';
import type { DriveEntry, Provider } from '../../src/providers/index.js';
import { ServerClock } from '../../src/http/server-clock.js';
import { findFinalized, multipartEtag } from '../../src/upload/recover.js';

const AT = Date.UTC(2026, 10, 23, 9, 0, 0);
const dest = { name: 'report.bin' };
const parts = [
  { number: 1, etag: 'a'.repeat(32), size: 5 },
  { number: 2, etag: 'b'.repeat(32), size: 5 },
];
const ours = multipartEtag(parts)!;

function drive(entries: Array<Partial<DriveEntry>>): Provider {
  const full = entries.map((e, i) => ({ id: `i${i}`, name: 'report.bin', type: 'file' as const, size: 10, ...e }));
  return { findInFolder: async () => full } as unknown as Provider;
}
const clock = (offsetMs?: number) => ({ offsetMs });

describe('findFinalized: the item a cut-off finalize made, and no other', () => {
  it('takes an item created after finalize was sent (by the server clock)', async () => {
    const found = await findFinalized(drive([{ createdAt: AT + 800 }]), dest, { at: AT, size: 10 }, undefined, clock(0));
    expect(found?.id).toBe('i0');
  });

  it("never takes a stranger's file of the same name and size made a minute before", async () => {
    expect(await findFinalized(drive([{ createdAt: AT - 60_000 }]), dest, { at: AT, size: 10 }, undefined, clock(0))).toBeUndefined();
  });

  it('never takes an item without times (nothing says it is recent)', async () => {
    expect(await findFinalized(drive([{}]), dest, { at: AT, size: 10 }, undefined, clock(0))).toBeUndefined();
  });

  it("reads the item's times by the server's clock: a server 5 minutes ahead", async () => {
    const ahead = 5 * 60_000;
    const p = drive([{ createdAt: AT + ahead + 300 }]);
    expect((await findFinalized(p, dest, { at: AT, size: 10 }, undefined, clock(ahead)))?.id).toBe('i0');
    // A file made just before finalize, by that clock, is not ours.
    expect(await findFinalized(drive([{ createdAt: AT + ahead - 30_000 }]), dest, { at: AT, size: 10 }, undefined, clock(ahead))).toBeUndefined();
  });

  it('MemoryLake: the multipart ETag of our parts proves it, even when an overwrite kept an old created_at', async () => {
    const p = drive([{ createdAt: AT - 3_600_000, updatedAt: AT - 3_600_000, etag: `"${ours}"` }]);
    expect((await findFinalized(p, dest, { at: AT, size: 10, parts: 2, etag: ours }, undefined, clock(0)))?.id).toBe('i0');
  });

  it('MemoryLake: a recent item with another multipart ETag is not ours', async () => {
    const p = drive([{ createdAt: AT + 500, etag: `${'c'.repeat(32)}-2` }]);
    expect(await findFinalized(p, dest, { at: AT, size: 10, parts: 2, etag: ours }, undefined, clock(0))).toBeUndefined();
  });

  it('an item updated after finalize counts (overwrite keeps createdAt, moves updatedAt)', async () => {
    const p = drive([{ createdAt: AT - 3_600_000, updatedAt: AT + 200 }]);
    expect((await findFinalized(p, dest, { at: AT, size: 10 }, undefined, clock(0)))?.id).toBe('i0');
  });

  it('other sizes and folders do not count', async () => {
    const p = drive([{ createdAt: AT + 500, size: 11 }, { createdAt: AT + 500, type: 'folder' }]);
    expect(await findFinalized(p, dest, { at: AT, size: 10 }, undefined, clock(0))).toBeUndefined();
  });
});

describe('ServerClock', () => {
  it('reads the offset from Date headers (median), within a second', () => {
    const c = new ServerClock();
    expect(c.offsetMs).toBeUndefined();
    const sent = Date.UTC(2026, 10, 23, 9, 0, 0, 100);
    // The server is 90 s ahead.
    for (let i = 0; i < 5; i++) c.observe(new Date(sent + 90_000 + 20).toUTCString(), sent, sent + 40);
    c.observe('garbage', sent, sent + 40);
    expect(Math.abs(c.offsetMs! - 90_000)).toBeLessThanOrEqual(1000);
  });
});
