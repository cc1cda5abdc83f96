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
