// One upload, one driver: several `lakeup put` processes of the built CLI started at once on one
// file. A proxy in front of the sandbox holds every API request until each process has either
// stopped or reached the API (only a lock holder gets that far), so the winner cannot finish and
// release the lock before a slow starter looks at it: the test measures the lock, not the timing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../src/sandbox/server.js';
import { stateId } from '../../src/state/state-file.js';
import { lastJson, startCli, type CliResult } from '../helpers/cli.js';
import { makeFile, tempDir } from '../helpers/files.js';
import { startGateProxy, type GateProxy } from '../helpers/gate-proxy.js';
import { deadPid } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SIZE = 3 * MiB + 17;
const PROCESSES = 8;
const ROUNDS = 5;

let sb: SandboxHandle;
let gate: GateProxy;
let work: string;
let file: string;

beforeAll(async () => {
  work = await tempDir();
  sb = await startSandbox({ port: 0, dir: path.join(work, 'store'), memorylakePartSize: 1 * MiB });
  gate = await startGateProxy(sb.origin);
  file = await makeFile(path.join(work, 'race.bin'), SIZE, 21);
});
afterAll(async () => {
  await gate?.close();
  await sb?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Starts PROCESSES uploads of `file` at once and checks that exactly one of them sent it. */
async function race(round: string, stateDir: string): Promise<void> {
  const env = { LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: gate.origin, LAKEUP_STATE_DIR: stateDir };
  const sessions = sb.stats().sessions;
  const finalized = sb.stats().finalized.length;
  gate.shut();

  const runs = Array.from({ length: PROCESSES }, () => startCli(['put', file, '-p', 'memorylake', '--json'], { env }));
  let stopped = 0;
  for (const r of runs) void r.result.then(() => stopped++);
  await waitFor('every process to stop or reach the API', () => stopped + gate.held >= PROCESSES);
  gate.open();
  const results: Array<CliResult & { pid: number }> = await Promise.all(runs.map(async (r) => ({ ...(await r.result), pid: r.pid! })));

  const winners = results.filter((r) => r.code === 0);
  expect(winners.map((w) => w.pid), `${round}: processes that uploaded`).toHaveLength(1);
  const winner = winners[0];
  expect(lastJson(winner.stdout)).toMatchObject({ ok: true, size: SIZE });
  for (const l of results.filter((r) => r !== winner)) {
    expect(l.code, `${round}: ${l.stderr}`).toBe(1);
    expect(l.stderr).toMatch(new RegExp(`another lakeup \\(pid ${winner.pid}\\) is already uploading this file; wait for it to finish or stop it`));
  }
  expect(sb.stats().sessions - sessions, `${round}: upload sessions created`).toBe(1);
  expect(sb.stats().finalized.length - finalized, `${round}: files finished`).toBe(1);
  expect(fs.readdirSync(stateDir), `${round}: state folder after the run`).toEqual([]);
}

describe(`${PROCESSES} processes, one file`, () => {
  it(`exactly one uploads it; the others stop with "another lakeup" (${ROUNDS} rounds)`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      await race(`round ${round}`, fs.mkdtempSync(path.join(work, 'state-')));
    }
  });

  it(`exactly one takes over the lock a killed run left behind (${ROUNDS} rounds)`, async () => {
    const id = stateId('memorylake', gate.origin, path.resolve(file), { name: path.basename(file) });
    for (let round = 1; round <= ROUNDS; round++) {
      const stateDir = fs.mkdtempSync(path.join(work, 'stale-'));
      const since = Date.now() - 60_000;
      fs.writeFileSync(path.join(stateDir, `${id}.lock`), JSON.stringify({ pid: await deadPid(), host: os.hostname(), since }), { mode: 0o600 });
      await race(`stale round ${round}`, stateDir);
    }
  });
});
