import path from 'node:path';
import { expect } from 'vitest';
import type { FinalizedFile, SandboxHandle } from '../../src/sandbox/server.js';

/**
 * A finished file's path in its provider's drive, '/'-separated (each drive is stored in `<dir>/<provider>`); '' when
 * nothing was written (sink mode).
 */
export function drivePath(sb: SandboxHandle, f: FinalizedFile): string {
  return f.path ? path.relative(path.join(sb.dir, f.provider), f.path).split(path.sep).join('/') : '';
}

/** Where the sandbox wrote the newest finished file of that provider and name (fails the test if none). */
export function storedPath(sb: SandboxHandle, provider: string, name: string): string {
  const f = sb.stats().finalized.filter((x) => x.provider === provider && x.name === name).pop();
  expect(f, `finalized ${provider}/${name}`).toBeTruthy();
  expect(f!.path, `${provider}/${name} was written to disk`).toBeTruthy();
  return f!.path!;
}
