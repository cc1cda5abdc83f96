// Waiting on what a test can observe (a file, a counter, a process), never on a fixed delay.

/** Resolves once `fn()` returns something truthy; fails the test after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | null, timeoutMs = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise the test resolves when it chooses (`open()`), to hold something back until then. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
