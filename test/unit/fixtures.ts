// Loads the recorded API bodies in the top-level fixtures/ folder (shared with the sandbox contract
// test, test/contract/sandbox-contract.test.ts).
import { readFileSync } from 'node:fs';

/** A fresh parse of fixtures/<path> each call, so a test may change its copy. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fixture<T = any>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}

/** The text of fixtures/<path> as recorded (the S3 XML error bodies). */
export function fixtureText(path: string): string {
  return readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), 'utf8');
}
