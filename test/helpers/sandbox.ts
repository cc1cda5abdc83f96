import { expect } from 'vitest';
import type { SandboxHandle } from '../../src/sandbox/server.js';

/** Where the sandbox wrote the newest finished file of that provider and name (fails the test if none). */
export function storedPath(sb: SandboxHandle, provider: string, name: string): string {
  const f = sb.stats().finalized.filter((x) => x.provider === provider && x.name === name).pop();
  expect(f, `finalized ${provider}/${name}`).toBeTruthy();
  expect(f!.path, `${provider}/${name} was written to disk`).toBeTruthy();
  return f!.path!;
}
