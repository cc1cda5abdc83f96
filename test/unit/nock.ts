// nock for a whole test file, shared by the provider tests that answer with it. Its own module, not
// helpers.ts: importing nock intercepts every request in the process.
import nock from 'nock';
import { afterAll, afterEach, beforeAll } from 'vitest';

/**
 * No real network for the file but, with `loopback`, 127.0.0.1 (for closedPort's refused
 * connections); every test's interceptors are cleared after it.
 */
export function useNock({ loopback }: { loopback: boolean }): void {
  beforeAll(() => {
    nock.disableNetConnect();
    if (loopback) nock.enableNetConnect('127.0.0.1');
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
    nock.restore();
  });
}

/** Captures the JSON body of the next matching request: pass `fn` as nock's body matcher. */
export function capture(): { body?: unknown; fn: (b: unknown) => boolean } {
  const c: { body?: unknown; fn: (b: unknown) => boolean } = {
    fn: (b) => {
      c.body = b;
      return true;
    },
  };
  return c;
}
