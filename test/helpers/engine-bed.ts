// A testbed for the transfer engine: a file of a few parts and a programmable storage stand-in
// (part-server.ts) per test, and engine options pointed at them.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { UploadEvents } from '../../src/events.js';
import { splitParts } from '../../src/providers/layout.js';
import type { EngineOptions } from '../../src/transfer/engine.js';
import type { FinishedPart } from '../../src/types.js';
import { makeFile, tempDir } from './files.js';
import { startPartServer, type PartServer } from './part-server.js';

export const PART = 64 * 1024;
/** Six whole parts and a short seventh. */
export const SIZE = PART * 6 + 123;

export interface EngineBed {
  readonly server: PartServer;
  readonly file: string;
  /** Options for `uploadParts` against this test's server and file. */
  opts(over?: Partial<EngineOptions>): EngineOptions;
}

/** Registers the per-test setup and teardown; the file's bytes follow `seed`. */
export function useEngineBed(seed: number): EngineBed {
  let server: PartServer;
  let file: string;
  let dir: string;
  beforeEach(async () => {
    server = await startPartServer();
    dir = await tempDir();
    file = await makeFile(path.join(dir, 'f.bin'), SIZE, seed);
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    get server() {
      return server;
    },
    get file() {
      return file;
    },
    opts: (over = {}) => ({
      path: file,
      parts: splitParts(SIZE, PART),
      done: new Map<number, FinishedPart>(),
      urlFor: (n) => server.url(n),
      concurrency: 3,
      retries: 3,
      stallTimeoutMs: 5000,
      verify: true,
      events: new UploadEvents(),
      minBackoffMs: 1,
      maxBackoffMs: 20,
      ...over,
    }),
  };
}
