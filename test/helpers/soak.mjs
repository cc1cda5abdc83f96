// The kill-anywhere soak (`npm run soak`, and a short version in test/e2e/soak.e2e.test.ts).
//
// Each round uploads a fresh small tree (a few files, some of several parts) with
// `lakeup put <tree> -r -p <provider> --json` against one sandbox with faults on, kills the run
// with SIGKILL 0–2 times at a moment drawn from a seeded PRNG, then runs it once more without a
// kill. That last run must exit 0 on its own, and afterwards every file of the tree is in the
// drive exactly once under its own path, byte-exact, no folder was made twice, and the state
// folder is empty. Every failure is collected with its round and seed; the soak goes on.
//
// Moments are aimed at, not hoped for: an API tap in front of the sandbox (api-tap.mjs) holds or
// slows finalize, URL refresh, session and folder calls, and a watch on the state folder fires on
// a state file's temp file. What a kill hit is then *observed*, not assumed: a temp file of the
// killed pid left beside a state file says "state write", a call in flight at the tap says which
// call, and so on (see `momentOfKill`).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiTap } from './api-tap.mjs';
import { fillBytes } from './fill-bytes.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'lakeup.js');
const KiB = 1024;
const MiB = 1024 * KiB;
/** MemoryLake's part size in the soak's sandbox: small, so that small files take several parts. */
const ML_PART = 256 * KiB;
/** Presigned URL lifetime: short enough that a paused round sees its saved URLs go stale. */
const URL_TTL_MS = 3000;

/** Moments a kill can land in, in the order the summary lists them. */
export const MOMENTS = ['sending', 'finalize', 'state write', 'url refresh', 'session start', 'folder create', 'lookup', 'lock', 'startup', 'between calls', 'wrap-up'];

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: small and good enough to choose trees, faults and kill moments. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    /** A number in [lo, hi). */
    between: (lo, hi) => lo + next() * (hi - lo),
    chance: (p) => next() < p,
    /** One of [value, weight] pairs. */
    weighted(pairs) {
      const total = pairs.reduce((n, [, w]) => n + w, 0);
      let x = next() * total;
      for (const [v, w] of pairs) if ((x -= w) < 0) return v;
      return pairs[pairs.length - 1][0];
    },
  };
}

/** The seed of round `r` of a soak seeded `seed`: a round can be replayed alone (`--round`). */
export function roundSeed(seed, r) {
  const h = createHash('sha256').update(`${seed}:${r}`).digest();
  return h.readUInt32LE(0);
}

// ---------------------------------------------------------------------------------------------
// Trees

async function writeFile(file, size, seed) {
  const fh = await fsp.open(file, 'w');
  try {
    for (let off = 0; off < size; off += MiB) {
      const buf = Buffer.allocUnsafe(Math.min(MiB, size - off));
      fillBytes(buf, (seed + off) >>> 0);
      await fh.write(buf);
    }
  } finally {
    await fh.close();
  }
}

/**
 * A tree of a few files under `root` (whose base name is the round's): small ones (one part) and
 * one or two of several parts (MemoryLake: ML_PART parts; Copera: 5 MiB parts, files over 5 MiB).
 */
async function makeTree(root, provider, rng) {
  const folders = [[], ['a'], ['a', 'b'], ['c']];
  const specs = [];
  const big = rng.int(1, 2);
  const small = provider === 'copera' ? rng.int(1, 3) : rng.int(2, 4);
  for (let i = 0; i < big; i++) {
    const size = provider === 'copera' ? 5 * MiB + rng.int(1, 6 * MiB) : ML_PART + rng.int(1, 5 * ML_PART);
    specs.push({ name: `big${i}.bin`, size });
  }
  for (let i = 0; i < small; i++) specs.push({ name: `s${i}.txt`, size: rng.int(1, 64 * KiB) });
  const files = [];
  const dirs = new Set([path.basename(root)]);
  for (const [i, s] of specs.entries()) {
    const folder = folders[rng.int(0, folders.length - 1)];
    const dir = path.join(root, ...folder);
    await fsp.mkdir(dir, { recursive: true });
    const file = path.join(dir, s.name);
    await writeFile(file, s.size, rng.int(1, 2 ** 30) + i);
    files.push({ file, rel: [path.basename(root), ...folder, s.name].join('/'), size: s.size });
    for (let d = 1; d <= folder.length; d++) dirs.add([path.basename(root), ...folder.slice(0, d)].join('/'));
  }
  return { root, files, dirs: [...dirs].sort() };
}

async function sha256(file) {
  const h = createHash('sha256');
  for await (const c of fs.createReadStream(file)) h.update(c);
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// The CLI

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(LAKEUP_|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|FORCE_COLOR|NO_COLOR)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function startCli(args, env) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const result = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, result };
}

function jsonLines(stdout) {
  return stdout
    .split(/\r?\n/)
    .filter((l) => l.trim().startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Kill plans: what to aim at, and how

/**
 * - timer: a random moment of the run: mostly uniform over the time such runs take from their first
 *   API call on, sometimes within the first 400 ms (start-up: the scan, the journal, the locks)
 * - finalize: hold it (after: it took effect; before: it never arrives), or make the server slow to
 *   carry it out (it still does, after the kill), or slow its answer; kill while it hangs
 * - url-refresh (Copera): expire every URL, hold the refresh that follows, kill
 * - session (MemoryLake): expire every URL, hold the new session that follows, kill
 * - state-write: kill when the nth temp file of a state write appears (or the first of a lock)
 * - folder, lookup: hold a folder creation / a lookup (a listing, or the search for a cut-off
 *   finalize's item), kill
 */
function choosePlan(provider, rng, estMs) {
  const kind = rng.weighted(
    provider === 'copera'
      ? [['timer', 40], ['finalize', 25], ['url-refresh', 14], ['state-write', 11], ['folder', 5], ['lookup', 5]]
      : [['timer', 40], ['finalize', 25], ['session', 9], ['state-write', 15], ['folder', 6], ['lookup', 5]],
  );
  const when = rng.chance(0.5) ? 'after' : 'before';
  switch (kind) {
    case 'timer':
      return rng.chance(0.15)
        ? { kind, fromStart: true, delayMs: Math.round(rng.between(0, 400)) }
        : { kind, fromStart: false, delayMs: Math.round(rng.between(0, estMs * 1.1)) };
    case 'finalize': {
      const variant = rng.weighted([['hold-after', 3], ['hold-before', 2], ['server-slow', 3], ['answer-slow', 2]]);
      const ms = rng.int(100, 1500);
      return { kind, variant, ms, killAfterMs: Math.round(rng.between(0, Math.min(ms * 0.6, 400))) };
    }
    case 'url-refresh':
    case 'session':
      // Mostly at once, before any part is sent (every part then needs new URLs); sometimes later.
      return { kind, when, armAfterMs: rng.chance(0.7) ? 0 : rng.int(1, 150) };
    case 'folder':
      // Held (after: made, never answered; before: never arrives), or still being made when killed.
      return rng.chance(0.35) ? { kind, when: 'slow', ms: rng.int(100, 1500) } : { kind, when };
    case 'lookup':
      return { kind, when };
    case 'state-write':
      // Mostly a state file's write (the nth of the run); sometimes a lock's.
      return { kind, lock: rng.chance(0.2), nth: rng.int(1, 6) };
    default:
      return { kind };
  }
}

function describePlan(p) {
  switch (p.kind) {
    case 'timer':
      return `timer ${p.delayMs}ms${p.fromStart ? ' from start' : ''}`;
    case 'finalize':
      return `finalize ${p.variant}${p.variant.startsWith('hold') ? '' : ` ${p.ms}ms`}`;
    case 'url-refresh':
    case 'session':
    case 'folder':
    case 'lookup':
      return p.when === 'slow' ? `${p.kind} server-slow ${p.ms}ms` : `${p.kind} hold-${p.when}`;
    case 'state-write':
      return p.lock ? 'lock write' : `state write #${p.nth}`;
    default:
      return p.kind;
  }
}

/** What the killed process left in the state folder that only a process cut off mid-write leaves. */
function leftBy(stateDir, pid) {
  let names = [];
  try {
    names = fs.readdirSync(stateDir);
  } catch {
    return { stateTmp: [], lockTmp: [] };
  }
  const stateTmp = [];
  const lockTmp = [];
  for (const n of names) {
    if (n.endsWith('.tmp') && (n.includes(`-${pid}-`) || n.includes(`.${pid}-`))) (n.includes('.lock.') ? lockTmp : stateTmp).push(n);
    else if (/\.lock\.(new-|takeover-)/.test(n)) {
      try {
        if (JSON.parse(fs.readFileSync(path.join(stateDir, n), 'utf8')).pid === pid) lockTmp.push(n);
      } catch {
        /* not ours to judge */
      }
    }
  }
  return { stateTmp, lockTmp };
}

/** Several things at once (jobs > 1): the riskier call names the moment. */
const PRIORITY = ['finalize', 'url-refresh', 'folder', 'part', 'session', 'lookup'];
const MOMENT_NAME = { finalize: 'finalize', 'url-refresh': 'url refresh', folder: 'folder create', session: 'session start', part: 'sending', lookup: 'lookup' };

/**
 * What was happening when the process was killed, from what was seen: temp files of the killed
 * pid (a state or lock write cut off), a call held or in flight at the tap, the calls made so far,
 * and whether every file was in the drive already.
 */
function momentOfKill(snap, left) {
  const calls = snap.inflight;
  const held = calls.find((c) => c.phase === 'held-before' || c.phase === 'held-after');
  const parts = calls.filter((c) => c.moment === 'part').length;
  const detail = [...calls.filter((c) => c.moment !== 'part').map((c) => `${c.moment}:${c.phase}`), ...(parts ? [`${parts} part PUT(s)`] : [])].join(' ');
  if (left.stateTmp.length) return { moment: 'state write', detail: `${left.stateTmp.map((n) => n.replace(/^[0-9a-f]{16}/, '<id>').replace(/\.([0-9a-f]{8}-)?\d+-[0-9a-f]+\.tmp$/, '.*.tmp')).join(' ')}${detail ? ` (+ ${detail})` : ''}` };
  if (left.lockTmp.length) return { moment: 'lock', detail: left.lockTmp.join(' ') };
  if (held) return { moment: MOMENT_NAME[held.moment] ?? held.moment, detail: `${held.moment} ${held.phase}`, sub: `${held.moment}:${held.phase}` };
  for (const m of PRIORITY) {
    const c = calls.find((x) => x.moment === m);
    if (c && m === 'part') return { moment: 'sending', detail };
    if (c) return { moment: MOMENT_NAME[m], detail, sub: `${m}:${c.phase}` };
  }
  if (snap.callsMade === 0) return { moment: 'startup', detail: 'no API call yet' };
  if (snap.inDrive >= snap.files) return { moment: 'wrap-up', detail: 'every file in the drive' };
  // No call in flight: reading and hashing, a retry's backoff, bookkeeping between two calls.
  return { moment: 'between calls', detail: `${snap.inDrive}/${snap.files} in the drive` };
}

// ---------------------------------------------------------------------------------------------
// The soak

/**
 * @param {object} o
 * @param {number} o.rounds
 * @param {number} o.seed
 * @param {(opts: object) => Promise<any>} o.startSandbox  the sandbox (src in tests, dist in the script)
 * @param {number[]} [o.only]  rounds to run (replay), default all
 * @param {(line: string) => void} [o.log]
 * @param {boolean} [o.keep]  keep the trees and state folders of failed rounds
 */
export async function runSoak(o) {
  const started = Date.now();
  const log = o.log ?? (() => undefined);
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'lakeup-soak-'));
  const sb = await o.startSandbox({ port: 0, dir: path.join(work, 'drive'), memorylakePartSize: ML_PART, urlTtlMs: URL_TTL_MS, seed: o.seed });
  const tap = await startApiTap(sb.origin);
  const summary = {
    seed: o.seed,
    rounds: 0,
    runs: 0,
    kills: 0,
    missed: 0,
    killedDuring: Object.fromEntries(MOMENTS.map((m) => [m, 0])),
    details: {},
    plans: {},
    recovered: 0,
    finalizedAgain: 0,
    uploadedAgain: 0,
    pausedRounds: 0,
    killedComplete: 0,
    lost: 0,
    duplicated: 0,
    corrupt: 0,
    foldersTwice: 0,
    strayFolders: 0,
    leftovers: 0,
    finalFailed: 0,
    failures: [],
    faults: {},
    calls: {},
    elapsedMs: 0,
  };
  /** How long a run takes from its first API call on (exit-0 runs, moving average): where timers aim. */
  const est = { memorylake: 300, copera: 300 };
  const rounds = o.only ?? Array.from({ length: o.rounds }, (_, i) => i + 1);
  try {
    for (const r of rounds) {
      const res = await soakRound({ r, seed: roundSeed(o.seed, r), sb, tap, work, est, summary, keep: o.keep });
      summary.rounds++;
      if (res.problems.length) summary.failures.push(res);
      log(roundLine(res));
      for (const n of res.notes) log(`  · ${n}`);
      for (const p of res.problems) log(`  ✗ ${p}`);
      o.onRound?.(res);
    }
  } finally {
    const st = sb.stats();
    summary.faults = st.faultsInjected;
    summary.calls = tap.counts();
    summary.sessions = st.sessions;
    await tap.close();
    await sb.close();
    if (!o.keep || summary.failures.length === 0) await fsp.rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
    summary.elapsedMs = Date.now() - started;
  }
  return summary;
}

function roundLine(res) {
  const kills = res.kills.map((k) => (k.killed ? `${k.moment} [${k.plan}]` : `missed [${k.plan}]`)).join(', ') || 'no kill';
  const mark = res.problems.length ? '✗' : '✓';
  const limit = res.args.includes('--limit-rate') ? ` at ${res.args[res.args.indexOf('--limit-rate') + 1]}` : '';
  return `${mark} round ${String(res.round).padStart(3)} seed ${res.seed} ${res.provider.padEnd(10)} ${res.files} files${limit}, ${res.runs} runs: ${kills}${res.paused ? ' (+pause)' : ''} ${res.ms}ms`;
}

async function soakRound({ r, seed, sb, tap, work, est, summary, keep }) {
  const t0 = Date.now();
  const rng = prng(seed);
  const provider = r % 2 === 1 ? 'memorylake' : 'copera';
  const name = `soak-${String(r).padStart(4, '0')}`;
  const tree = await makeTree(path.join(work, 'trees', name), provider, rng);
  const stateDir = await fsp.mkdtemp(path.join(work, 'state-'));
  const faults = {
    failRate: round3(rng.between(0, 0.05)),
    resetRate: round3(rng.between(0, 0.04)),
    throttleRate: round3(rng.between(0, 0.015)),
    stallRate: round3(rng.between(0, 0.015)),
    corruptRate: round3(rng.between(0, 0.015)),
    latencyMs: rng.int(2, 15),
  };
  sb.setFaults(faults);
  const jobs = rng.int(1, 4);
  const args = ['put', tree.root, '-r', '-p', provider, '--json', '--progress', 'none', '-j', String(jobs), '-c', String(rng.int(1, 4)), '--timeout', String(rng.int(1, 2))];
  if (provider === 'copera') args.push('--part-size', '5MiB');
  // Most rounds on a slow link: sending then takes most of a run, as it does for real.
  const rateMiB = rng.chance(0.65) ? (provider === 'copera' ? rng.int(24, 64) : rng.int(2, 8)) : 0;
  if (rateMiB) args.push('--limit-rate', `${rateMiB}MiB/s`);
  // How long sending the whole tree takes on that link: timers aim over it too.
  const sendMs = rateMiB ? (tree.files.reduce((n, f) => n + f.size, 0) / (rateMiB * MiB)) * 1000 : 0;
  const env = { LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: tap.origin, LAKEUP_STATE_DIR: stateDir };
  const nKills = rng.weighted([[0, 1], [1, 4], [2, 4]]);
  const pauseAt = provider === 'copera' && rng.chance(0.12) ? rng.int(0, nKills) : -1; // before which run time passes
  const res = { round: r, seed, provider, files: tree.files.length, runs: 0, kills: [], problems: [], notes: [], paused: pauseAt >= 0, ms: 0, faults, args: args.slice(1) };
  // The provider's drive is stored in <dir>/<provider>.
  const drive = path.join(sb.dir, provider);
  const inRound = (st) => st.finalized.filter((f) => f.provider === provider && f.path && topOf(drive, f.path).startsWith(name)).length;
  const notes = (stderr) => {
    summary.finalizedAgain += (stderr.match(/did not make the file \(it is not in the drive\): finalizing it again/g) ?? []).length;
    summary.uploadedAgain += (stderr.match(/did not make the file \(it is not in the drive\): uploading it again|no longer knows the interrupted upload session: uploading/g) ?? []).length;
  };

  // Runs with a kill plan; a run the plan missed that exits 0 ends the round (running a finished
  // command again is a new upload, not a resume).
  let lines;
  let done = false;
  for (let k = 0; k < nKills && !done; k++) {
    if (k === pauseAt) await pause(summary);
    const plan = choosePlan(provider, rng, est[provider] + sendMs);
    summary.plans[plan.kind] = (summary.plans[plan.kind] ?? 0) + 1;
    const outcome = await killedRun({ args, env, plan, tap, sb, stateDir, files: tree.files.length, inRound });
    res.runs++;
    summary.runs++;
    notes(outcome.result.stderr);
    summary.recovered += jsonLines(outcome.result.stdout).filter((l) => l.recovered === true).length;
    if (outcome.killed) {
      summary.kills++;
      summary.killedDuring[outcome.moment.moment]++;
      if (outcome.moment.sub) summary.details[outcome.moment.sub] = (summary.details[outcome.moment.sub] ?? 0) + 1;
      res.kills.push({ killed: true, plan: describePlan(plan), moment: outcome.moment.moment, detail: outcome.moment.detail, atMs: outcome.atMs });
      if (outcome.complete) {
        // Killed after its last step (the journal is gone, every file in the drive): nothing to resume, and the same
        // command again would be a new upload. What the kill left (a run lock not yet released) is for the next
        // lakeup in that state folder to clear: the folder is checked after one, `lakeup list`.
        summary.killedComplete++;
        done = true;
        await listAfterLastStep({ env, stateDir, res });
      }
    } else {
      summary.missed++;
      res.kills.push({ killed: false, plan: describePlan(plan), exit: outcome.result.code });
      if (outcome.result.code === 0) {
        est[provider] = est[provider] * 0.8 + outcome.ms * 0.2;
        lines = jsonLines(outcome.result.stdout);
        done = true;
      } else if (outcome.result.code !== 1) {
        // A run left alone exits 0, or 1 when a fault outlasted its retries (a rerun resumes).
        res.problems.push(`run ${res.runs} exited ${outcome.result.code}: ${lastLines(outcome.result.stderr)}`);
      }
    }
  }

  if (!done) {
    if (pauseAt === nKills) await pause(summary);
    // The last run: no kill, no hold, faults still on. It must finish by itself.
    tap.reset();
    let t;
    const first = () => (t ??= Date.now());
    tap.events.on('request', first);
    const { child, result } = startCli(args, env);
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const last = await result;
    clearTimeout(timer);
    tap.events.off('request', first);
    res.runs++;
    summary.runs++;
    notes(last.stderr);
    lines = jsonLines(last.stdout);
    summary.recovered += lines.filter((l) => l.recovered === true).length;
    if (last.code === 0) {
      if (t !== undefined) est[provider] = est[provider] * 0.8 + (Date.now() - t) * 0.2;
    } else {
      summary.finalFailed++;
      res.problems.push(`the last run ${last.signal ? 'hung and was killed' : `exited ${last.code}`} (a person would be needed): ${lastLines(last.stderr)}`);
    }
    if (/^lakeup: error/m.test(last.stderr) && last.code === 0) res.problems.push(`the last run exited 0 but printed an error: ${lastLines(last.stderr)}`);
  }
  // Calls a killed run left at the server (a slow finalize) land before anything is judged.
  await tap.idle();

  await verify({ sb, drive, provider, name, tree, stateDir, res, summary, lines });
  res.ms = Date.now() - t0;
  if (!res.problems.length || !keep) {
    await fsp.rm(tree.root, { recursive: true, force: true });
    await fsp.rm(stateDir, { recursive: true, force: true });
  }
  // The stored copies are checked: free the disk for the next rounds.
  for (const n of await fsp.readdir(drive).catch(() => [])) if (n.startsWith(name) && !res.problems.length) await fsp.rm(path.join(drive, n), { recursive: true, force: true });
  return res;
}

/** `lakeup list` after a run killed past its last step: it must exit 0 and show nothing pending. */
async function listAfterLastStep({ env, stateDir, res }) {
  const left = fs.readdirSync(stateDir);
  const list = await startCli(['list', '--json'], env).result;
  const shown = jsonLines(list.stdout)[0];
  if (list.code !== 0 || !shown) res.problems.push(`lakeup list after the last step exited ${list.code}: ${lastLines(list.stderr)}`);
  else if (shown.uploads.length || shown.runs.length) res.problems.push(`lakeup list after the last step shows pending uploads: ${JSON.stringify(shown)}`);
  if (left.length) res.notes.push(`killed after its last step, it left ${left.map((n) => n.replace(/^[0-9a-f]{16}/, '<id>')).join(', ')}; then lakeup list`);
}

async function pause(summary) {
  // Time passes between two runs (a laptop closed overnight): the saved URLs go stale, and the next
  // run must refresh them (Copera) before sending.
  summary.pausedRounds++;
  await sleep(Math.round(URL_TTL_MS * 0.85));
}

const round3 = (x) => Math.round(x * 1000) / 1000;

function lastLines(s) {
  return s.trim().split('\n').slice(-3).join(' | ').slice(0, 600);
}

function topOf(dir, p) {
  return path.relative(dir, p).split(path.sep)[0];
}

/**
 * One run with a kill plan: start it, arm the plan, kill it with SIGKILL when the plan fires (if the
 * run is still going), and say what was happening.
 */
async function killedRun({ args, env, plan, tap, sb, stateDir, files, inRound }) {
  const t0 = Date.now();
  const callsBefore = Object.values(tap.counts()).reduce((a, b) => a + b, 0);
  const { child, result } = startCli(args, env);
  let snap;
  let exited = false;
  result.then(() => (exited = true));
  const cleanups = [];
  let timerSet = false;
  const fire = () => {
    if (snap || exited || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    // Taken in the same tick as the kill: the tap has not yet seen the sockets close.
    const st = sb.stats();
    snap = {
      atMs: Date.now() - t0,
      inflight: tap.inflight(),
      callsMade: Object.values(tap.counts()).reduce((a, b) => a + b, 0) - callsBefore,
      inDrive: inRound(st),
      files,
    };
  };
  const on = (event, pred, fn) => {
    const l = (e) => {
      if (pred(e)) fn(e);
    };
    tap.events.on(event, l);
    cleanups.push(() => tap.events.off(event, l));
  };
  const later = (ms, fn) => {
    const t = setTimeout(fn, ms);
    cleanups.push(() => clearTimeout(t));
  };

  if (process.env.LAKEUP_SOAK_DEBUG) {
    // Replays: every call the tap sees, with its time from the start of the run.
    for (const ev of ['request', 'server-busy', 'answered', 'held', 'answer-delayed']) {
      on(ev, () => true, (e) => process.stderr.write(`  · ${Date.now() - t0}ms ${ev} ${e.moment} ${e.path}${e.status ? ` ${e.status}` : ''}\n`));
    }
  }
  let firstCall;
  on('request', () => firstCall === undefined, () => (firstCall = Date.now()));
  switch (plan.kind) {
    case 'timer':
      if (plan.fromStart) later(plan.delayMs, fire);
      else on('request', () => !timerSet, () => ((timerSet = true), later(plan.delayMs, fire)));
      break;
    case 'finalize':
      if (plan.variant === 'hold-after' || plan.variant === 'hold-before') {
        tap.hold('finalize', plan.variant === 'hold-after' ? 'after' : 'before');
        on('held', (e) => e.moment === 'finalize', fire);
      } else if (plan.variant === 'server-slow') {
        tap.slow('finalize', { beforeMs: plan.ms });
        on('server-busy', (e) => e.moment === 'finalize', () => later(plan.killAfterMs, fire));
      } else {
        tap.slow('finalize', { afterMs: plan.ms });
        on('answer-delayed', (e) => e.moment === 'finalize', () => later(plan.killAfterMs, fire));
      }
      break;
    case 'url-refresh':
    case 'session': {
      // Once the run is sending, every URL expires; the call that follows (a refresh on Copera, a
      // new session on MemoryLake) is held, and the run killed while it hangs.
      const moment = plan.kind;
      let armed = false;
      const arm = () => {
        if (armed || exited) return;
        armed = true;
        tap.hold(moment, plan.when);
        sb.expireAllUrls();
      };
      // Once URLs came (MemoryLake's session, Copera's first presign; not Copera's start), or a
      // resumed run, which may make no session call at all, sends its first part.
      on('answered', (e) => e.moment === 'session' && !e.path.endsWith('/multipart/start'), () => later(plan.armAfterMs, arm));
      on('request', (e) => e.moment === 'part', () => later(plan.armAfterMs, arm));
      on('held', (e) => e.moment === moment, fire);
      break;
    }
    case 'folder':
    case 'lookup':
      if (plan.when === 'slow') {
        tap.slow('folder', { beforeMs: plan.ms });
        on('server-busy', (e) => e.moment === 'folder', fire);
        break;
      }
      tap.hold(plan.kind, plan.when);
      on('held', (e) => e.moment === plan.kind, fire);
      break;
    case 'state-write': {
      let seen = 0;
      const w = fs.watch(stateDir, (ev, name) => {
        if (ev !== 'rename' || !name || !name.endsWith('.tmp') || name.includes('.lock.') !== plan.lock) return;
        if (!fs.existsSync(path.join(stateDir, name))) return; // renamed into place already: the write is over
        if (++seen >= (plan.lock ? 1 : plan.nth)) fire();
      });
      cleanups.push(() => w.close());
      break;
    }
  }

  const r = await result;
  for (const c of cleanups) c();
  tap.reset();
  const activeMs = firstCall === undefined ? 0 : Date.now() - firstCall;
  if (!snap) return { killed: false, result: r, ms: activeMs };
  const left = leftBy(stateDir, child.pid);
  const journal = fs.readdirSync(stateDir).some((n) => n.endsWith('.run.ndjson'));
  const complete = !journal && inRound(sb.stats()) >= files;
  return { killed: true, result: r, atMs: snap.atMs, moment: momentOfKill(snap, left), ms: Date.now() - t0, complete };
}

/** Every file once under its own path, byte-exact; no folder twice; nothing left in the state folder. */
async function verify({ sb, drive, provider, name, tree, stateDir, res, summary, lines }) {
  const st = sb.stats();
  const variant = new RegExp(`^${name}(_\\d+| \\(\\d+\\))?$`);
  const mine = st.finalized.filter((f) => f.provider === provider && f.path && variant.test(topOf(drive, f.path)));
  const byRel = new Map();
  for (const f of mine) {
    const rel = path.relative(drive, f.path).split(path.sep).join('/');
    byRel.set(rel, [...(byRel.get(rel) ?? []), f]);
  }
  const expected = new Map(tree.files.map((f) => [f.rel, f]));
  for (const f of tree.files) {
    const got = byRel.get(f.rel);
    if (!got) {
      summary.lost++;
      res.problems.push(`lost: ${f.rel} is not in the drive`);
      continue;
    }
    if (got.length > 1) {
      summary.duplicated += got.length - 1;
      res.problems.push(`duplicated: ${f.rel} finalized ${got.length} times`);
    }
    const stored = got[0];
    if (stored.size !== f.size || (await sha256(stored.path)) !== (await sha256(f.file))) {
      summary.corrupt++;
      res.problems.push(`corrupt: ${f.rel} in the drive differs from the source (${stored.size} vs ${f.size} bytes)`);
    }
  }
  for (const [rel, got] of byRel) {
    if (expected.has(rel)) continue;
    summary.duplicated += got.length;
    res.problems.push(`duplicated: ${rel} (${got.map((g) => g.id).join(', ')}) is a second copy`);
  }

  // Folders: the round's tree, each made once, none renamed. One exception, counted apart: Copera
  // renames a duplicate folder and documents no way to refuse one, so a folder creation still under
  // way at the server when lakeup was killed can leave a second, empty folder (the files go into the
  // one of the right name; a renamed folder holding anything is a failure like any other).
  const all = st.foldersCreated.filter((f) => f.provider === provider);
  const ours = new Set();
  const walk = (parent) => {
    for (const f of all) if (f.parentId === parent && !ours.has(f.id)) (ours.add(f.id), walk(f.id));
  };
  for (const f of all) if (f.parentId === null && variant.test(f.name)) (ours.add(f.id), walk(f.id));
  const made = all.filter((f) => ours.has(f.id));
  const seen = new Set();
  const extra = [];
  for (const f of made) {
    const key = `${f.parentId}/${f.name.replace(/(_\d+| \(\d+\))$/, '')}`;
    if (seen.has(key) || /(_\d+| \(\d+\))$/.test(f.name)) extra.push(f);
    seen.add(key);
  }
  const holdsFiles = (id) => mine.some((x) => x.parentId === id) || made.some((x) => x.parentId === id);
  const cutFolder = res.kills.some((k) => k.killed && k.moment === 'folder create' && /folder:(server-busy|at-server)/.test(k.detail ?? ''));
  const stray = provider === 'copera' && cutFolder ? extra.filter((f) => !holdsFiles(f.id)) : [];
  if (stray.length) {
    summary.strayFolders += stray.length;
    res.notes.push(`an empty second folder '${stray.map((f) => f.name).join("', '")}' (a Copera folder creation cut off at the server)`);
  }
  if (extra.length > stray.length || made.length - stray.length > tree.dirs.length) {
    summary.foldersTwice += Math.max(extra.length - stray.length, made.length - stray.length - tree.dirs.length);
    res.problems.push(`folders made twice: ${made.map((f) => f.name).join(', ')} (expected ${tree.dirs.length})`);
  }

  // The last run reported every file as in the drive.
  const ok = lines?.filter((l) => l.ok === true).length;
  if (lines && ok !== tree.files.length && res.problems.length === 0) res.problems.push(`the last run reported ${ok} of ${tree.files.length} files`);

  let left = [];
  try {
    // The ledger of finished uploads stays by design: it is what makes the next run of the command cost nothing.
    left = fs.readdirSync(stateDir).filter((n) => n !== 'ledger.json');
  } catch {
    left = [];
  }
  if (left.length) {
    summary.leftovers += left.length;
    res.problems.push(`left in the state folder: ${left.map((n) => n.replace(/^[0-9a-f]{16}/, '<id>')).join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function fmtMs(ms) {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** The summary as a few plain-text tables. */
export function formatSummary(s) {
  const out = [];
  out.push(`kill-anywhere soak: ${s.rounds} rounds, seed ${s.seed}, ${fmtMs(s.elapsedMs)}`);
  out.push('');
  out.push(`| runs | SIGKILLs | plans that missed (run ended first) | killed after the run was complete | recovered finalizes | finalized again | uploaded again |`);
  out.push(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  out.push(`| ${s.runs} | ${s.kills} | ${s.missed} | ${s.killedComplete} | ${s.recovered} | ${s.finalizedAgain} | ${s.uploadedAgain} |`);
  out.push('');
  out.push('| killed during | kills |');
  out.push('| --- | ---: |');
  for (const m of MOMENTS) out.push(`| ${m} | ${s.killedDuring[m] ?? 0} |`);
  const subs = Object.entries(s.details).sort((a, b) => b[1] - a[1]);
  if (subs.length) {
    out.push('');
    out.push(`calls in flight when killed: ${subs.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  out.push(`plans: ${Object.entries(s.plans).map(([k, v]) => `${k} ${v}`).join(', ')}; rounds paused past the URL lifetime: ${s.pausedRounds}`);
  out.push(`faults injected: ${Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(', ')}; API calls: ${Object.entries(s.calls).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push('');
  out.push('| lost | duplicated | corrupt | folders made twice | files left in state folders | last runs that needed a person |');
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  out.push(`| ${s.lost} | ${s.duplicated} | ${s.corrupt} | ${s.foldersTwice} | ${s.leftovers} | ${s.finalFailed} |`);
  if (s.strayFolders) out.push(`\nplus ${s.strayFolders} empty second folder(s) on Copera from a folder creation cut off at the server (Copera renames a duplicate folder and has no way to refuse one; the files went into the folder of the right name)`);
  if (s.failures.length) {
    out.push('');
    out.push(`${s.failures.length} round(s) failed (replay one with --seed ${s.seed} --round N):`);
    for (const f of s.failures) {
      out.push(`- round ${f.round} (${f.provider}, round seed ${f.seed}, ${f.args.join(' ')}; faults ${JSON.stringify(f.faults)})`);
      for (const k of f.kills) out.push(`    ${k.killed ? `killed at ${k.atMs} ms during ${k.moment} (${k.detail})` : 'not killed'} [${k.plan}]`);
      for (const p of f.problems) out.push(`    ✗ ${p}`);
    }
  }
  return out.join('\n');
}
