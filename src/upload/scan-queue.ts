// What stands between the walk and the uploads: a bounded queue. The walk (and the stat and journal
// check of each file it finds) fills it while the uploads take from it, so the first file goes out
// while the rest of a tree is still being read, and no more than `capacity` files found wait in
// memory: the walk waits when the uploads are behind. `Lookahead` reads the first few files of a
// stream before a run starts (is it one file or many?) without losing them.

/** A FIFO of at most `capacity` items between one producer and any number of consumers. */
export class BoundedQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private readonly takers: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private room: Array<() => void> = [];
  private closed = false;
  private cancelled = false;
  private error: { e: unknown } | undefined;

  constructor(readonly capacity = 1024) {
    if (!(capacity >= 1)) throw new RangeError('a queue holds at least one item');
  }

  /** Items waiting. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** No more items will come (ended, failed or cancelled). */
  get done(): boolean {
    return this.closed || this.cancelled;
  }

  /**
   * Adds an item; resolves once there is room for the next (at once while the queue is not full).
   * False: the consumers are gone (cancelled), stop producing.
   */
  async push(item: T): Promise<boolean> {
    if (this.cancelled) return false;
    if (this.closed) throw new Error('push after the end of the queue');
    const taker = this.takers.shift();
    if (taker) taker.resolve({ value: item, done: false });
    else this.items.push(item);
    while (this.size >= this.capacity && !this.cancelled) await new Promise<void>((r) => this.room.push(r));
    return !this.cancelled;
  }

  /** The producer is through: consumers get what is left, then the end. */
  end(): void {
    this.closed = true;
    if (this.size === 0) for (const t of this.takers.splice(0)) t.resolve({ value: undefined, done: true });
  }

  /** The producer failed: consumers get what is left, then this error. */
  fail(e: unknown): void {
    this.error = { e };
    this.closed = true;
    if (this.size === 0) for (const t of this.takers.splice(0)) t.reject(e);
  }

  /** The consumers are through (the run stopped): the producer's next push returns false; what waits is dropped. */
  cancel(): void {
    this.cancelled = true;
    this.items = [];
    this.head = 0;
    for (const r of this.room.splice(0)) r();
    for (const t of this.takers.splice(0)) t.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.items[this.head];
      this.items[this.head++] = undefined as T; // let it go
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (this.size < this.capacity) for (const r of this.room.splice(0)) r();
      return Promise.resolve({ value, done: false });
    }
    if (this.cancelled || (this.closed && !this.error)) return Promise.resolve({ value: undefined, done: true });
    if (this.error) return Promise.reject(this.error.e);
    return new Promise((resolve, reject) => this.takers.push({ resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.next() };
  }
}

/**
 * Moves a stream into a queue as fast as the queue takes it, then ends it (or fails it with the
 * stream's error). Stops reading the stream when the queue is cancelled.
 */
export async function pump<T>(from: AsyncIterable<T>, to: BoundedQueue<T>): Promise<void> {
  try {
    for await (const x of from) if (!(await to.push(x))) return; // leaving the loop closes the stream
    to.end();
  } catch (e) {
    to.fail(e);
  }
}

/** A stream whose first items can be read ahead and are still iterated, in order. */
export class Lookahead<T> implements AsyncIterable<T> {
  private readonly head: T[] = [];
  private ended = false;
  private readonly it: AsyncIterator<T>;

  constructor(from: AsyncIterable<T>) {
    this.it = from[Symbol.asyncIterator]();
  }

  /** Reads ahead until `enough` says so, `max` items are read or the stream ends; the items read so far. */
  async fill(enough: (head: readonly T[]) => boolean, max = 1024): Promise<readonly T[]> {
    while (!this.ended && this.head.length < max && !enough(this.head)) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.head.push(r.value);
    }
    return this.head;
  }

  /** Whether the items read ahead are the whole stream. */
  get whole(): boolean {
    return this.ended;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    while (this.head.length > 0) yield this.head.shift()!;
    if (this.ended) return;
    for (;;) {
      const r = await this.it.next();
      if (r.done) return;
      yield r.value;
    }
  }
}
