// A testbed for end-to-end files: one sandbox for the whole file, storing under a temp work folder,
// optionally behind an API tap; a fresh state folder for each test, and the CLI's env pointed at them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startSandbox, type SandboxHandle, type SandboxOptions } from '../../src/sandbox/server.js';
import { startApiTap, type ApiTap, type TapCall } from './api-tap.mjs';
import { tempDir } from './files.js';

export interface SandboxBed {
  readonly sb: SandboxHandle;
  /** The file's temp folder: the sandbox stores under `store/`, each test's state folder is a `state-*` beside it. */
  readonly work: string;
  /** This test's state folder (empty when the test starts). */
  readonly stateDir: string;
  /** LAKEUP_TOKEN, LAKEUP_ENDPOINT (the sandbox, or the tap in front of it) and LAKEUP_STATE_DIR for this test. */
  readonly env: Record<string, string>;
  /** The env of a CLI using the state folder `stateDir` (and, if given, the API at `endpoint`). */
  envFor(stateDir: string, endpoint?: string): Record<string, string>;
  /** Another empty state folder, for a test that needs several, with its env. */
  newState(prefix?: string): { stateDir: string; env: Record<string, string> };
}

export interface TappedSandboxBed extends SandboxBed {
  /** In front of the sandbox (env's endpoint); reset before each test. */
  readonly tap: ApiTap;
  /** The next call the tap reports as `event` that `match` accepts. */
  nextCall(event: 'server-busy' | 'answered', match: (c: TapCall) => boolean): Promise<TapCall>;
}

/** Registers the file's and each test's setup and teardown; `opts` go to the sandbox (port 0 and its store are set). */
export function useSandboxBed(opts: SandboxOptions = {}): SandboxBed {
  return bed(opts, false);
}

/** As useSandboxBed, with the CLI talking to the sandbox through an API tap. */
export function useTappedSandboxBed(opts: SandboxOptions = {}): TappedSandboxBed {
  return bed(opts, true);
}

function bed(opts: SandboxOptions, tapped: boolean): TappedSandboxBed {
  let sb: SandboxHandle;
  let tap: ApiTap | undefined;
  let work: string;
  let stateDir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    work = await tempDir();
    sb = await startSandbox({ port: 0, dir: path.join(work, 'store'), ...opts });
    if (tapped) tap = await startApiTap(sb.origin);
  });
  afterAll(async () => {
    await tap?.close();
    await sb?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const envFor = (dir: string, endpoint = (tap ?? sb).origin) => ({ LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: endpoint, LAKEUP_STATE_DIR: dir });
  const newState = (prefix = 'state-') => {
    const dir = fs.mkdtempSync(path.join(work, prefix));
    return { stateDir: dir, env: envFor(dir) };
  };
  beforeEach(() => {
    tap?.reset();
    ({ stateDir, env } = newState());
  });
  return {
    get sb() {
      return sb;
    },
    get tap() {
      if (!tap) throw new Error('this sandbox bed has no tap (useTappedSandboxBed)');
      return tap;
    },
    get work() {
      return work;
    },
    get stateDir() {
      return stateDir;
    },
    get env() {
      return env;
    },
    envFor,
    newState,
    nextCall(event, match) {
      if (!tap) throw new Error('this sandbox bed has no tap (useTappedSandboxBed)');
      const events = tap.events;
      return new Promise((resolve) => {
        const l = (c: TapCall) => {
          if (!match(c)) return;
          events.off(event, l);
          resolve(c);
        };
        events.on(event, l);
      });
    },
  };
}

/**
 * For files whose tests each want a sandbox of their own, set up differently (faults, rate limits,
 * scripted answers), concurrent tests too: one temp work folder for the file, the sandboxes under it.
 */
export interface SandboxPool {
  /** The file's temp folder (made before the file's tests, removed after). */
  readonly work: string;
  /** A sandbox for one test, `opts` over the pool's defaults; closed after the file. */
  start(opts?: SandboxOptions): Promise<SandboxHandle>;
  /** Runs `fn` with a sandbox of its own, closed when `fn` ends. */
  with<T>(opts: SandboxOptions | undefined, fn: (sb: SandboxHandle) => Promise<T>): Promise<T>;
  /** LAKEUP_TOKEN and LAKEUP_ENDPOINT of `sb`, and LAKEUP_STATE_DIR: `stateDir`, or a new empty state folder. */
  envFor(sb: SandboxHandle, stateDir?: string): Record<string, string>;
}

/** Registers the file's setup and teardown; `prefix` names the work folder. */
export function useSandboxPool(defaults: SandboxOptions = {}, prefix?: string): SandboxPool {
  let work: string;
  const open = new Set<SandboxHandle>();
  beforeAll(async () => {
    work = await tempDir(prefix);
  });
  afterAll(async () => {
    await Promise.all([...open].map((s) => s.close()));
    fs.rmSync(work, { recursive: true, force: true });
  });
  const start = async (opts: SandboxOptions = {}) => {
    const sb = await startSandbox({ port: 0, dir: fs.mkdtempSync(path.join(work, 'store-')), ...defaults, ...opts });
    open.add(sb);
    return sb;
  };
  return {
    get work() {
      return work;
    },
    start,
    async with(opts, fn) {
      const sb = await start(opts);
      try {
        return await fn(sb);
      } finally {
        open.delete(sb);
        await sb.close();
      }
    },
    envFor(sb, stateDir = fs.mkdtempSync(path.join(work, 'state-'))) {
      return { LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin, LAKEUP_STATE_DIR: stateDir };
    },
  };
}
