#!/usr/bin/env node
// `npm run bench` (many files): lakeup on folders of small files against a local sandbox, with and
// without API latency and an account-wide API rate limit, at several --jobs.
//
//   node scripts/bench-files.mjs [--files 300] [--big] [--jobs 1,4,8,16] [--runs 3] [--latency 20ms] [--api-rate 100]
//
// Each case runs `lakeup put <folder> -r -p memorylake --progress none --json` as a child of GNU
// time (exact CPU user+sys and peak RSS from wait4), against a sandbox in its own process, so the
// CPU counted is lakeup's alone. Cases alternate round by round; medians are printed. 429s come
// from the sandbox's own count (GET /_sandbox/stats). --big adds a 10,000-file folder (memory must
// stay flat with the count of files).
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'lakeup.js');

const opts = { files: 300, big: false, jobs: [1, 4, 8, 16], runs: 3, latency: '20ms', apiRate: 100 };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const v = () => a[++i];
    if (k === '--files') opts.files = Number(v());
    else if (k === '--big') opts.big = true;
    else if (k === '--jobs') opts.jobs = v().split(',').map(Number);
    else if (k === '--runs') opts.runs = Number(v());
    else if (k === '--latency') opts.latency = v();
    else if (k === '--api-rate') opts.apiRate = Number(v());
    else {
      process.stderr.write(`bench-files: unknown flag ${k}\n`);
      process.exit(2);
    }
  }
}

const gnuTime = ['/usr/bin/time', '/bin/time'].find((p) => existsSync(p) && spawnSync(p, ['-f', '%M', 'true']).status === 0);
if (!gnuTime) {
  process.stderr.write('bench-files: GNU time is needed for CPU and peak RSS (Debian package "time"); skipping\n');
  process.exit(0);
}

/** A folder of `n` files of 1 byte to 16 KiB in folders of 100. */
function makeFolder(n) {
  const dir = path.join(os.tmpdir(), `lakeup-bench-files-${n}`);
  if (existsSync(`${dir}.complete`)) return dir;
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const sub = path.join(dir, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    const buf = Buffer.alloc(1 + ((i * 7919) % (16 * 1024)));
    randomFillSync(buf);
    writeFileSync(path.join(sub, `f${i}.bin`), buf);
  }
  writeFileSync(`${dir}.complete`, '');
  return dir;
}

/** Starts `lakeup sandbox` in its own process; resolves with its origin and a stop function. */
async function sandbox(args) {
  const child = spawn(process.execPath, [cli, 'sandbox', '--port', '0', '--sink', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
  });
  const { origin, token } = JSON.parse(line);
  return {
    origin,
    token,
    // A fresh connection each time (the link in front of the sandbox may close idle ones), retried once.
    stats: async () => {
      for (let i = 0; ; i++) {
        try {
          return await (await fetch(`${origin}/_sandbox/stats`, { headers: { connection: 'close' }, keepalive: false })).json();
        } catch (err) {
          if (i >= 2) throw err;
        }
      }
    },
    stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGINT'))),
  };
}

async function runOnce(sb, folder, jobs, stateDir) {
  const before = await sb.stats();
  const env = { ...process.env, LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin, LAKEUP_STATE_DIR: stateDir };
  const t0 = performance.now();
  const r = spawnSync(gnuTime, ['-f', 'RUSAGE %U %S %M', process.execPath, cli, 'put', folder, '-r', '-p', 'memorylake', '--no-resume', '-j', String(jobs), '--progress', 'none', '--json'], {
    env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const wall = (performance.now() - t0) / 1000;
  const m = /RUSAGE ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`lakeup failed (${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
  const after = await sb.stats();
  const calls = Object.values(after.apiCalls).reduce((a, b) => a + b, 0) - Object.values(before.apiCalls).reduce((a, b) => a + b, 0);
  return { wall, cpu: Number(m[1]) + Number(m[2]), rssMiB: Number(m[3]) / 1024, calls, limited: (after.rateLimited ?? 0) - (before.rateLimited ?? 0) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function scenario(title, sbArgs, folder, n, jobsList, runs) {
  const sb = await sandbox(sbArgs);
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakeup-bench-state-'));
  const results = new Map(jobsList.map((j) => [j, []]));
  try {
    for (let round = 0; round < runs; round++) for (const j of jobsList) results.get(j).push(await runOnce(sb, folder, j, stateDir));
  } finally {
    await sb.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  }
  console.log(`\n### ${title}: ${n} files (sandbox ${sbArgs.join(' ') || 'defaults'}), medians of ${runs}`);
  console.log('| --jobs | wall s | files/s | CPU ms/file | peak RSS MiB | API calls | 429s |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const [j, rs] of results) {
    const wall = median(rs.map((r) => r.wall));
    const cpu = median(rs.map((r) => r.cpu));
    console.log(
      `| ${j} | ${wall.toFixed(2)} | ${(n / wall).toFixed(0)} | ${((cpu * 1000) / n).toFixed(2)} | ${median(rs.map((r) => r.rssMiB)).toFixed(0)} | ${median(rs.map((r) => r.calls))} | ${median(rs.map((r) => r.limited))} (${((median(rs.map((r) => r.limited)) / median(rs.map((r) => r.calls))) * 100).toFixed(1)}%) |`,
    );
  }
}

const small = makeFolder(opts.files);
console.log(`# lakeup, many small files — ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString()}`);
await scenario('loopback, no limit', [], small, opts.files, opts.jobs, opts.runs);
await scenario('latency 50ms, no limit (a distant API)', ['--latency', '50ms'], small, opts.files, opts.jobs, opts.runs);
await scenario(`latency ${opts.latency}, account limit ${opts.apiRate} calls/s`, ['--latency', opts.latency, '--api-rate', String(opts.apiRate)], small, opts.files, opts.jobs, opts.runs);
if (opts.big) {
  const big = makeFolder(10_000);
  await scenario('10,000 files, loopback', [], big, 10_000, [8], 1);
  await scenario('10,000 files, latency 20ms, account limit 1000 calls/s', ['--latency', '20ms', '--api-rate', '1000'], big, 10_000, [8, 16], 1);
}
