import { describe, expect, it } from 'vitest';
import { BoundedQueue, Lookahead, pump } from '../../src/upload/scan-queue.js';

/** A stream of 0..n-1 that records how far it was read. */
function counting(n: number) {
  const seen = { read: 0, closed: false };
  async function* gen() {
    try {
      for (let i = 0; i < n; i++) {
        seen.read = i + 1;
        yield i;
      }
    } finally {
      seen.closed = true;
    }
  }
  return { seen, stream: gen() };
}

describe('BoundedQueue', () => {
  it('holds at most its capacity: the producer waits until a consumer takes one', async () => {
    const q = new BoundedQueue<number>(3);
    const { seen, stream } = counting(100);
    const pumping = pump(stream, q);
    // The producer runs until the queue is full, then waits.
    await new Promise((r) => setImmediate(r));
    expect(q.size).toBe(3);
    expect(seen.read).toBe(3);
    const got: number[] = [];
    for await (const x of q) {
      got.push(x);
      expect(q.size).toBeLessThanOrEqual(3);
    }
    await pumping;
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(seen.closed).toBe(true);
  });

  it('serves several consumers, each item once, in order', async () => {
    const q = new BoundedQueue<number>(2);
    const pumping = pump(counting(50).stream, q);
    const got: number[] = [];
    await Promise.all(
      [1, 2, 3].map(async () => {
        for (;;) {
          const r = await q.next();
          if (r.done) return;
          got.push(r.value);
        }
      }),
    );
    await pumping;
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("gives what was queued, then the producer's error", async () => {
    const q = new BoundedQueue<number>(10);
    async function* failing() {
      yield 1;
      yield 2;
      throw new Error('cannot list it');
    }
    await pump(failing(), q);
    expect(await q.next()).toEqual({ value: 1, done: false });
    expect(await q.next()).toEqual({ value: 2, done: false });
    await expect(q.next()).rejects.toThrow('cannot list it');
  });

  it('cancelled: the producer stops reading its stream, waiting consumers end', async () => {
    const q = new BoundedQueue<number>(2);
    const { seen, stream } = counting(1_000_000);
    const pumping = pump(stream, q);
    await new Promise((r) => setImmediate(r));
    q.cancel();
    await pumping;
    expect(seen.closed).toBe(true);
    expect(seen.read).toBeLessThan(10);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('a consumer waiting on an empty queue gets the next item pushed, and the end', async () => {
    const q = new BoundedQueue<string>(1);
    const waiting = q.next();
    await q.push('a');
    expect(await waiting).toEqual({ value: 'a', done: false });
    const end = q.next();
    q.end();
    expect(await end).toEqual({ value: undefined, done: true });
  });
});

describe('Lookahead', () => {
  it('reads ahead only as far as asked, and iterates what it read before the rest', async () => {
    const { seen, stream } = counting(10);
    const l = new Lookahead(stream);
    expect(await l.fill((h) => h.length >= 2)).toEqual([0, 1]);
    expect(seen.read).toBe(2);
    expect(l.whole).toBe(false);
    const all: number[] = [];
    for await (const x of l) all.push(x);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('knows when what it read is the whole stream', async () => {
    const l = new Lookahead(counting(1).stream);
    expect(await l.fill((h) => h.length >= 2)).toEqual([0]);
    expect(l.whole).toBe(true);
  });
});
