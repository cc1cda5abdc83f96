#!/usr/bin/env node
// `npm run bench` (many files): lakeup on folders of small files against a local sandbox, with and
// without API latency and an account-wide API rate limit, at several --jobs.
//
//   node scripts/bench-files.mjs [--files 300] [--big] [--jobs 1,4,8,16] [--runs 3] [--latency 20ms] [--api-rate 100] [--rerun-only]
//
// Each case runs `lakeup put <folder> -r -p memorylake --progress none --json` as a child of GNU
// time (exact CPU user+sys and peak RSS from wait4), against a sandbox in its own process, so the
// CPU counted is lakeup's alone. Cases alternate round by round; medians are printed. 429s come
// from the sandbox's own count (GET /_sandbox/stats). --big adds a 10,000-file folder (memory must
// stay flat with the count of files). Every run also times the same command twice on a 10,000-file folder
// where nothing changed (the rerun's cost; --rerun-only runs just that).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gnuTime, makeFolder, median, startSinkSandbox, timedRun } from './lib/bench-common.mjs';

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
    else if (k === '--rerun-only') opts.rerunOnly = true;
    else {
      process.stderr.write(`bench-files: unknown flag ${k}\n`);
      process.exit(2);
    }
  }
}

if (!gnuTime) {
  process.stderr.write('bench-files: GNU time is needed for CPU and peak RSS (Debian package "time"); skipping\n');
  process.exit(0);
}

async function runOnce(sb, folder, jobs, stateDir) {
  const before = await sb.stats();
  const env = { ...process.env, LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin, LAKEUP_STATE_DIR: stateDir };
  const { wall, cpu, rssMiB } = timedRun(cli, ['put', folder, '-r', '-p', 'memorylake', '--no-resume', '--again', '-j', String(jobs), '--progress', 'none', '--json'], env);
  const after = await sb.stats();
  const calls = Object.values(after.apiCalls).reduce((a, b) => a + b, 0) - Object.values(before.apiCalls).reduce((a, b) => a + b, 0);
  return { wall, cpu, rssMiB, calls, limited: (after.rateLimited ?? 0) - (before.rateLimited ?? 0) };
}

async function scenario(title, sbArgs, folder, n, jobsList, runs) {
  const sb = await startSinkSandbox(cli, sbArgs);
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

/**
 * The same command twice on a folder where nothing changed: what the second run costs on the same
 * machine (the ledger answers) and on a fresh state folder (a CI re-run: one listing per folder).
 */
async function rerun(folder, n) {
  const sb = await startSinkSandbox(cli, []);
  const state = await fs.mkdtemp(path.join(os.tmpdir(), 'lakeup-bench-state-'));
  const fresh = await fs.mkdtemp(path.join(os.tmpdir(), 'lakeup-bench-state-'));
  const envOf = (dir) => ({ ...process.env, LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin, LAKEUP_STATE_DIR: dir });
  const args = ['put', folder, '-r', '-p', 'memorylake', '--progress', 'none'];
  const calls = async (f) => {
    const before = Object.values((await sb.stats()).apiCalls).reduce((a, b) => a + b, 0);
    const r = f();
    return { ...r, calls: Object.values((await sb.stats()).apiCalls).reduce((a, b) => a + b, 0) - before };
  };
  const rows = [];
  try {
    rows.push(['first run (uploads every file)', await calls(() => timedRun(cli, args, envOf(state)))]);
    rows.push(['the same command again, same machine', await calls(() => timedRun(cli, args, envOf(state)))]);
    rows.push(['again from a fresh state folder (a CI re-run)', await calls(() => timedRun(cli, args, envOf(fresh)))]);
  } finally {
    await sb.stop();
    await fs.rm(state, { recursive: true, force: true });
    await fs.rm(fresh, { recursive: true, force: true });
  }
  console.log(`\n### the same command twice, ${n.toLocaleString('en-US')} files, nothing changed (loopback)`);
  console.log('| run | wall s | CPU s | CPU ms/file | API calls | peak RSS MiB |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [what, r] of rows) console.log(`| ${what} | ${r.wall.toFixed(2)} | ${r.cpu.toFixed(2)} | ${((r.cpu * 1000) / n).toFixed(2)} | ${r.calls} | ${r.rssMiB.toFixed(0)} |`);
}

if (opts.rerunOnly) {
  await rerun(makeFolder(10_000), 10_000);
  process.exit(0);
}

const small = makeFolder(opts.files);
console.log(`# lakeup, many small files — ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString()}`);
await scenario('loopback, no limit', [], small, opts.files, opts.jobs, opts.runs);
await scenario('latency 50ms, no limit (a distant API)', ['--latency', '50ms'], small, opts.files, opts.jobs, opts.runs);
await scenario(`latency ${opts.latency}, account limit ${opts.apiRate} calls/s`, ['--latency', opts.latency, '--api-rate', String(opts.apiRate)], small, opts.files, opts.jobs, opts.runs);
await rerun(makeFolder(10_000), 10_000);
if (opts.big) {
  const big = makeFolder(10_000);
  await scenario('10,000 files, loopback', [], big, 10_000, [8], 1);
  await scenario('10,000 files, latency 20ms, account limit 1000 calls/s', ['--latency', '20ms', '--api-rate', '1000'], big, 10_000, [8, 16], 1);
}
