// Loads the recorded API bodies in the top-level fixtures/ folder (shared with a sandbox contract test).
import { readFileSync } from 'node:fs';

/** A fresh parse of fixtures/<path> each call, so a test may change its copy. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fixture<T = any>(path: string): T {
  return JSON.parse(readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), 'utf8')) as T;
}
