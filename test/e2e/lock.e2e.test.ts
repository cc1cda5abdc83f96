// One upload, one driver: several `lakeup put` processes of the built CLI started at once on one
// file. A proxy in front of the sandbox holds every API request until each process has either
// stopped or reached the API (only a lock holder gets that far), so the winner cannot finish and
// release the lock before a slow starter looks at it: the test measures the lock, not the timing.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_FILE } from '../../src/state/ledger.js';
import { stateId } from '../../src/state/state-file.js';
import { LEASE_MS, sweepStateDir } from '../../src/state/lock/index.js';
import { baseEnv, BIN, lastJson, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { startGateProxy, type GateProxy } from '../helpers/gate-proxy.js';
import { deadPid } from '../helpers/processes.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SIZE = 3 * MiB + 17;
const PROCESSES = 8;
const ROUNDS = 5;

const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });
let gate: GateProxy;
let file: string;

beforeAll(async () => {
  gate = await startGateProxy(bed.sb.origin);
  file = await makeFile(path.join(bed.work, 'race.bin'), SIZE, 21);
});
afterAll(async () => {
  await gate?.close();
});

/** Starts PROCESSES uploads of `file` at once and checks that exactly one of them sent it. */
async function race(round: string, stateDir: string): Promise<void> {
  const env = bed.envFor(stateDir, gate.origin);
  const sessions = bed.sb.stats().sessions;
  const finalized = bed.sb.stats().finalized.length;
  gate.shut();

  // --again: every round sends the same file, which an earlier round left in the drive; and so the
  // first API call of each process is its session, after its lock (not a look in the drive before it).
  const runs = Array.from({ length: PROCESSES }, () => startCli(['put', file, '-p', 'memorylake', '--json', '--again'], { env }));
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
  expect(bed.sb.stats().sessions - sessions, `${round}: upload sessions created`).toBe(1);
  expect(bed.sb.stats().finalized.length - finalized, `${round}: files finished`).toBe(1);
  expect(fs.readdirSync(stateDir).filter((n) => n !== LEDGER_FILE), `${round}: state folder after the run`).toEqual([]);
}

describe(`${PROCESSES} processes, one file`, () => {
  it(`exactly one uploads it; the others stop with "another lakeup" (${ROUNDS} rounds)`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      await race(`round ${round}`, bed.newState().stateDir);
    }
  });

  it(`exactly one takes over the lock a killed run left behind (${ROUNDS} rounds)`, async () => {
    const id = stateId('memorylake', gate.origin, path.resolve(file), { name: path.basename(file) });
    for (let round = 1; round <= ROUNDS; round++) {
      const stateDir = bed.newState('stale-').stateDir;
      const since = Date.now() - 60_000;
      fs.writeFileSync(path.join(stateDir, `${id}.lock`), JSON.stringify({ pid: await deadPid(), host: os.hostname(), since }), { mode: 0o600 });
      await race(`stale round ${round}`, stateDir);
    }
  });
});

// A state folder another host left a lock in: a CI runner, pod or container killed mid-run, its
// folder restored from a cache or shared. Its pid means nothing here; its lease says it is dead.
const ELSEWHERE = 'lakeup-elsewhere';
const canUnshare = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('unshare', ['--uts', 'true']).status === 0;

describe('a run killed -9 on another host (another UTS namespace, another host name)', () => {
  it.skipIf(!canUnshare)('the rerun here takes its locks over once their lease lapses, within a minute, and sends every file once', { timeout: 150_000 }, async () => {
    const dir = path.join(bed.work, 'elsewhere-tree');
    fs.mkdirSync(dir);
    for (let i = 0; i < 4; i++) await makeFile(path.join(dir, `f${i}.bin`), 2 * MiB + i, 60 + i);
    const args = ['put', dir, '-r', '-p', 'memorylake', '--json', '--progress', 'none', '-j', '2'];
    const { stateDir, env } = bed;
    const before = bed.sb.stats().finalized.length;

    // There: SIGKILLed once it saves a file's state (under that file's lock and the run's).
    const there = spawn('unshare', ['--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', ELSEWHERE, process.execPath, BIN, ...args], { env: baseEnv(env), stdio: 'ignore' });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => there.on('close', (_code, signal) => resolve(signal)));
    const watcher = fs.watch(stateDir, (_ev, name) => {
      if (name && /^[0-9a-f]{16}\.json$/.test(name) && fs.existsSync(path.join(stateDir, name))) there.kill('SIGKILL');
    });
    const signal = await ended;
    watcher.close();
    expect(signal).toBe('SIGKILL');
    const locks = fs.readdirSync(stateDir).filter((n) => n.endsWith('.lock'));
    expect(locks.length, 'it left its run lock and a file lock').toBeGreaterThanOrEqual(2);
    for (const l of locks) expect(JSON.parse(fs.readFileSync(path.join(stateDir, l), 'utf8')).host).toBe(ELSEWHERE);

    // Here: the same command, run again at once.
    const t0 = Date.now();
    const again = await runCli(args, { env, timeoutMs: 120_000 });
    const took = Date.now() - t0;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`^lakeup: waiting for the lock of another lakeup \\(pid ${there.pid} on ${ELSEWHERE}\\), not renewed for \\d+ s: it is free after 30 s unless renewed$`, 'm'));
    expect(took, 'the rerun waited out the lease, not more').toBeLessThan(LEASE_MS + 30_000);
    const sent = bed.sb.stats().finalized.slice(before).filter((f) => f.path?.includes('elsewhere-tree'));
    expect(sent.map((f) => path.basename(f.path!)).sort()).toEqual(['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin']);
    // At most the temp file of a state (or URL file) write it was killed in: younger than a lease when the rerun
    // began, so that rerun's sweep kept it; the sweep of a lakeup a lease later removes it.
    const left = fs.readdirSync(stateDir);
    expect(left.filter((n) => n !== LEDGER_FILE && !/^[0-9a-f]{16}(\.urls)?\.json\.[0-9a-f]{8}-\d+-[0-9a-f]{12}\.tmp$/.test(n))).toEqual([]);
    const aLeaseAgo = new Date(Date.now() - LEASE_MS - 1_000);
    for (const n of left) fs.utimesSync(path.join(stateDir, n), aLeaseAgo, aLeaseAgo);
    await sweepStateDir(stateDir);
    expect(fs.readdirSync(stateDir).filter((n) => n !== LEDGER_FILE)).toEqual([]);
  });
});
