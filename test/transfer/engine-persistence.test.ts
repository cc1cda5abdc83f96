// What must not be lost is a step the engine awaits, not a listener: observers that throw cannot
// resend a part or leak a slot, and every finished part is made durable before the upload resolves.
import { describe, expect, it } from 'vitest';
import { uploadParts } from '../../src/transfer/engine.js';
import { UploadEvents } from '../../src/events.js';
import { AdaptiveLimiter } from '../../src/transfer/limiter.js';
import { useEngineBed } from '../helpers/engine-bed.js';
import { s3Error } from '../helpers/part-server.js';

const bed = useEngineBed(3);
const opts = bed.opts;

const stored = (n: number) => bed.server.arrived.filter((a) => a.part === n && a.answered === 200).length;

describe('persistence is a step, events are notifications', () => {
  it('a part:done listener that throws sends no part again', async () => {
    const events = new UploadEvents();
    events.on('part:done', () => {
      throw new Error('a view with a bug');
    });
    const o = opts({ events });
    await uploadParts(o);
    for (const p of o.parts) expect(stored(p.number), `part ${p.number}`).toBe(1);
  });

  it('a listener that throws during an attempt (part:progress) leaks no part slot', async () => {
    const events = new UploadEvents();
    let calls = 0;
    events.on('part:progress', () => {
      calls++;
      if (calls <= 2) throw new Error('boom');
    });
    const limiter = new AdaptiveLimiter(2);
    await uploadParts(opts({ events, limiter, concurrency: 2 }));
    expect(limiter.active).toBe(0);
    expect(bed.server.arrived.filter((a) => a.answered === 200)).toHaveLength(7);
  });

  it('every finished part is persisted before the upload resolves, and the slot is not held meanwhile', async () => {
    const persisted: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const o = opts({
      concurrency: 2,
      onPartDone: async (p) => {
        if (p.number === 1) await gate; // a slow disk for the first part
        persisted.push(p.number);
      },
    });
    let resolved = false;
    const upload = uploadParts(o).then(() => (resolved = true));
    // The other parts go on while part 1 is being saved.
    while (bed.server.arrived.filter((a) => a.answered === 200).length < 7) await new Promise((r) => setTimeout(r, 5));
    expect(resolved).toBe(false);
    release();
    await upload;
    expect(persisted.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('a persistence failure ends the upload with that error, not silently', async () => {
    const o = opts({
      onPartDone: (p) => {
        if (p.number === 2) throw new Error('disk full');
      },
    });
    await expect(uploadParts(o)).rejects.toThrow('disk full');
  });
});

describe('refreshed URLs', () => {
  const expired = { kind: 'status' as const, status: 403, body: s3Error('AccessDenied', 'Request has expired'), early: true };

  it('a part whose fresh URLs keep getting it further (then expiring again) is not given up as "still expired"', async () => {
    // Part 1: expired, then a 500 (the fresh URL worked), four times over, then stored. Three
    // refreshes without progress end a part; refreshes that led somewhere must not add up.
    bed.server.behave = (part, attempt) => {
      if (part !== 1) return { kind: 'ok' };
      if (attempt >= 9) return { kind: 'ok' };
      return attempt % 2 === 1 ? expired : { kind: 'status', status: 500, body: s3Error('InternalError', 'boom') };
    };
    let refreshes = 0;
    const o = opts({ retries: 8, refreshUrls: async () => void refreshes++ });
    await uploadParts(o);
    expect(o.done.size).toBe(7);
    expect(refreshes).toBe(4);
  });

  it('three refreshes in a row that change nothing end the part with one clear error', async () => {
    bed.server.behave = (part) => (part === 1 ? expired : { kind: 'ok' });
    const o = opts({ refreshUrls: async () => undefined });
    await expect(uploadParts(o)).rejects.toMatchObject({ code: 'URL_EXPIRED_AGAIN' });
  });
});
