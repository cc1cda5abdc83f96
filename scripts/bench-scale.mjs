#!/usr/bin/env node
// `npm run bench` (scale): memory and start-up of lakeup on trees of many tiny files (issue 22).
//
//   node scripts/bench-scale.mjs [--dry 1000000] [--upload 10000,100000] [--interrupt 100000] [--runs 3]
//
// 1. `put <tree> -r --dry-run` of a --dry tree: peak RSS and wall time (targets: ≤ 150 MB, ≤ 30 s).
// 2. Uploads of each --upload tree to a sandbox in sink mode: peak RSS (target: the biggest ≤ 200 MB
//    and within 20% of the smallest's).
// 3. A --interrupt run killed with -9 once half its files are in the drive, then run again: how soon
//    the rerun's first API call, and its first new file's upload session, come after its launch
//    (target ≤ 1.5 s for the new file), and whether any file was finalized twice.
// Trees are made once in the temp folder (files of 1–64 bytes, 1,000 a folder) and reused.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagsOf, gnuTime, median } from './lib/bench-common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'lakeup.js');
const opts = flagsOf('bench-scale', { dry: 1_000_000, upload: [10_000, 100_000], interrupt: 100_000, runs: 3 }, (k, v) =>
  k === 'upload' ? v.split(',').map(Number) : Number(v),
);
if (!gnuTime) {
  process.stderr.write('bench-scale: GNU time is needed for peak RSS (Debian package "time"); skipping\n');
  process.exit(0);
}

function tree(n) {
  const dir = path.join(os.tmpdir(), `lakeup-bench-tree-${n}`);
  if (existsSync(`${dir}.complete`)) return dir;
  process.stderr.write(`bench-scale: making ${n.toLocaleString('en-US')} files in ${dir} (once)\n`);
  for (let i = 0; i < n; i++) {
    const sub = path.join(dir, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `f${i}.bin`), 'x'.repeat(1 + (i % 64)));
  }
  writeFileSync(`${dir}.complete`, '');
  return dir;
}

/** Runs the CLI under GNU time: wall seconds and peak RSS (MiB). */
function timed(args, env = process.env) {
  const t0 = performance.now();
  const r = spawnSync(gnuTime, ['-f', 'RUSAGE %M', process.execPath, cli, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = (performance.now() - t0) / 1000;
  const m = /RUSAGE (\d+)/.exec(r.stderr);
  if (!m || (r.status !== 0 && r.status !== 2)) throw new Error(`lakeup failed (${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
  return { wall, rssMiB: Number(m[1]) / 1024 };
}

async function sandbox() {
  const child = spawn(process.execPath, [cli, 'sandbox', '--port', '0', '--sink'], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  const stats = async () => (await fetch(`${origin}/_sandbox/stats`)).json();
  // Polled while a run goes: the counters only (the whole stats of 100,000 files take the sandbox 1.6 s to send).
  const counts = async () => (await fetch(`${origin}/_sandbox/counts`)).json();
  return { origin, token, stats, counts, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGINT'))) };
}

const calls = (s) => Object.values(s.apiCalls).reduce((a, b) => a + b, 0);
console.log(`# lakeup at scale — ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString()}`);

if (opts.dry > 0) {
  const dir = tree(opts.dry);
  const rs = Array.from({ length: opts.runs }, () => timed(['put', dir, '-r', '-p', 'memorylake', '--dry-run']));
  const wall = median(rs.map((r) => r.wall));
  const rss = median(rs.map((r) => r.rssMiB));
  console.log(`\n${opts.dry.toLocaleString('en-US')}-file --dry-run, median of ${opts.runs}: ${wall.toFixed(1)} s, peak RSS ${rss.toFixed(0)} MiB — ${wall <= 30 && rss <= 150 ? 'met' : 'MISSED'} (≤ 30 s, ≤ 150 MB)`);
}

if (opts.upload.length > 0) {
  const sb = await sandbox();
  const rows = [];
  try {
    for (const n of opts.upload) {
      const dir = tree(n);
      const rs = [];
      for (let i = 0; i < opts.runs; i++) {
        const state = mkdtempSync(path.join(os.tmpdir(), 'lakeup-bench-state-'));
        rs.push(timed(['put', dir, '-r', '-p', 'memorylake', '--progress', 'none', '--again'], { ...process.env, LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin, LAKEUP_STATE_DIR: state }));
        rmSync(state, { recursive: true, force: true });
      }
      rows.push({ n, wall: median(rs.map((r) => r.wall)), rss: median(rs.map((r) => r.rssMiB)) });
    }
  } finally {
    await sb.stop();
  }
  console.log('\n| files uploaded (sink) | wall s | files/s | peak RSS MiB |\n|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.n.toLocaleString('en-US')} | ${r.wall.toFixed(1)} | ${(r.n / r.wall).toFixed(0)} | ${r.rss.toFixed(0)} |`);
  const big = rows.at(-1);
  const small = rows[0];
  console.log(`${big.rss <= 200 && big.rss <= small.rss * 1.2 ? 'met' : 'MISSED'}: the ${big.n.toLocaleString('en-US')}-file run peaks at ≤ 200 MB and within 20% of the ${small.n.toLocaleString('en-US')}-file run's`);
}

if (opts.interrupt > 0) {
  const dir = tree(opts.interrupt);
  const sb = await sandbox();
  const state = mkdtempSync(path.join(os.tmpdir(), 'lakeup-bench-state-'));
  const env = { ...process.env, LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin, LAKEUP_STATE_DIR: state };
  const args = [cli, 'put', dir, '-r', '-p', 'memorylake', '--progress', 'none'];
  try {
    const first = spawn(process.execPath, args, { env, stdio: 'ignore' });
    for (;;) {
      const s = await sb.counts();
      if (s.finalized >= opts.interrupt / 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const before = await sb.counts();
    const t0 = performance.now();
    const rerun = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const exited = new Promise((r) => rerun.once('exit', r));
    // The first API call may be a lookup of a file cut off mid-finalize; the first upload session
    // opened is the first new file's.
    let firstCall;
    let firstFile;
    while (firstFile === undefined) {
      const c = await sb.counts();
      const at = (performance.now() - t0) / 1000;
      if (firstCall === undefined && calls(c) > calls(before)) firstCall = at;
      if (c.sessions > before.sessions) firstFile = at;
      else await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
    const after = await sb.counts();
    // Every file once: more finalized than files means some were sent again (as a renamed copy).
    const twice = after.finalized - opts.interrupt;
    console.log(`\n${opts.interrupt.toLocaleString('en-US')}-file run killed with -9 after ${before.finalized.toLocaleString('en-US')} files: the rerun's first API call ${firstCall.toFixed(2)} s after its launch, its first new file (upload session) ${firstFile.toFixed(2)} s — ${firstFile <= 1.5 ? 'met' : 'MISSED'} (≤ 1.5 s); files sent again: ${twice}`);
  } finally {
    await sb.stop();
    rmSync(state, { recursive: true, force: true });
  }
}
