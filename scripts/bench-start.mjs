#!/usr/bin/env node
// `npm run bench` (start-up and cost per file): what a short command costs a shell script that calls
// lakeup once per file, and what each small file of a run costs.
//
//   node scripts/bench-start.mjs [--runs 15] [--files 300] [--many 20000] [--many-runs 3] [--cli a.js[,b.js]]
//
// 1. wall time of `node -e 0` against `lakeup --version`, `--help` and `list` (an empty state folder),
//    alternating round by round; the ratio is of medians.
// 2. a 100-byte `lakeup put` with default flags (no terminal), CPU (user+sys) and peak RSS from GNU time.
// 3. `lakeup put <folder> -r` of --files and of --many files of 1 byte to 16 KiB, default flags: CPU per
//    file including start-up.
// Every put goes to `lakeup sandbox --sink` in its own process, so the CPU counted is lakeup's alone.
// --cli takes several launchers (e.g. today's and another build's bin/lakeup.js): each case then
// alternates them, so their ratios come from the same minutes of a shared machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gnuTime, makeFolder, median, startSinkSandbox, timedRun } from './lib/bench-common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opts = { runs: 15, files: 300, many: 20_000, manyRuns: 3, clis: [path.join(root, 'bin', 'lakeup.js')] };
{
  const a = process.argv.slice(2);
  const num = (k, v) => (Number.isSafeInteger(Number(v)) && Number(v) >= 0 ? Number(v) : fail(`${k}: a whole number`));
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const v = () => a[++i];
    if (k === '--runs') opts.runs = Math.max(1, num(k, v()));
    else if (k === '--files') opts.files = num(k, v());
    else if (k === '--many') opts.many = num(k, v());
    else if (k === '--many-runs') opts.manyRuns = num(k, v());
    else if (k === '--cli') opts.clis = v().split(',').map((p) => path.resolve(p));
    else fail(`unknown flag ${k}`);
  }
}
function fail(msg) {
  process.stderr.write(`bench-start: ${msg}\n`);
  process.exit(2);
}
if (!gnuTime) {
  process.stderr.write('bench-start: GNU time is needed for CPU and peak RSS (Debian package "time"); skipping\n');
  process.exit(0);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'lakeup-bench-start-'));
const stateDir = path.join(work, 'state');
const env = { ...process.env, LAKEUP_STATE_DIR: stateDir };
for (const k of Object.keys(env)) if (/^(LAKEUP_(?!STATE_DIR)|FORCE_COLOR)/.test(k)) delete env[k];
const label = (cli) => (opts.clis.length > 1 ? ` (${path.relative(process.cwd(), cli) || cli})` : '');
const targets = [];
const target = (ok, text) => targets.push(`- ${ok ? 'met' : 'MISSED'}: ${text}`);

/** Wall ms of one command (spawn to exit, stdio ignored). */
function wallMs(args, withEnv = env) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env: withEnv, stdio: 'ignore' });
  if (r.status !== 0) fail(`${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}
/** CPU ms (user+sys) of one command, from GNU time. */
const cpuMs = (args, withEnv = env) => timedRun(args[0], args.slice(1), withEnv).cpu * 1000;

console.log(`# lakeup start-up and cost per file — ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString()}`);

// 1. start-up
{
  const cases = [['node -e 0', ['-e', '0']]];
  // Every Node process parses the certificates NODE_EXTRA_CA_CERTS names as it starts (~25 ms of CPU
  // for a distribution's bundle of ~140): a cost of the machine, in every figure below; said apart.
  if (env.NODE_EXTRA_CA_CERTS) cases.push(['node -e 0 (NODE_EXTRA_CA_CERTS unset)', ['-e', '0'], { ...env, NODE_EXTRA_CA_CERTS: '' }]);
  for (const cli of opts.clis) {
    for (const sub of [['--version'], ['--help'], ['list']]) cases.push([`lakeup ${sub.join(' ')}${label(cli)}`, [cli, ...sub]]);
  }
  for (const [, args, withEnv] of cases) wallMs(args, withEnv); // warm the page cache
  const times = cases.map(() => []);
  const cpus = cases.map(() => []);
  for (let round = 0; round < opts.runs; round++) {
    cases.forEach(([, args, withEnv], i) => {
      times[i].push(wallMs(args, withEnv));
      cpus[i].push(cpuMs(args, withEnv));
    });
  }
  const base = median(times[0]);
  const baseCpu = median(cpus[0]);
  console.log(`\n### start-up: medians of ${opts.runs} alternating rounds (wall: spawn to exit; CPU: user+sys from GNU time)`);
  console.log('| command | wall ms | × node -e 0 | CPU ms | × node -e 0 |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  cases.forEach(([name], i) =>
    console.log(
      `| ${name} | ${median(times[i]).toFixed(1)} | ${(median(times[i]) / base).toFixed(2)}x | ${median(cpus[i]).toFixed(0)} | ${(median(cpus[i]) / baseCpu).toFixed(2)}x |`,
    ),
  );
  cases.forEach(([name], i) => {
    if (name.startsWith('lakeup --version')) target(median(times[i]) / base <= 1.15, `${name} wall ≤ 1.15x node -e 0 (${(median(times[i]) / base).toFixed(2)}x)`);
  });
}

// A sandbox per section: one that has taken tens of thousands of files answers more slowly.
let sb = await startSinkSandbox(opts.clis[0]);
let putEnv = { ...env, LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin };
try {
  // 2. one small file
  const tiny = path.join(work, 'tiny.bin');
  writeFileSync(tiny, Buffer.alloc(100, 7));
  const put = new Map(opts.clis.map((c) => [c, []]));
  for (let round = 0; round < opts.runs; round++) {
    for (const cli of opts.clis) put.get(cli).push(timedRun(cli, ['put', tiny, '-p', 'memorylake', '--again'], putEnv));
  }
  console.log(`\n### a 100-byte put (default flags, no terminal), medians of ${opts.runs}`);
  console.log('| command | wall ms | CPU ms | peak RSS MB |');
  console.log('| --- | ---: | ---: | ---: |');
  const startCpu = new Map();
  for (const [cli, rs] of put) {
    const cpu = median(rs.map((r) => r.cpu)) * 1000;
    const rssMB = (median(rs.map((r) => r.rssMiB)) * 1024 * 1024) / 1e6;
    startCpu.set(cli, cpu);
    console.log(`| lakeup put 100 B${label(cli)} | ${(median(rs.map((r) => r.wall)) * 1000).toFixed(0)} | ${cpu.toFixed(0)} | ${rssMB.toFixed(0)} |`);
    target(cpu <= 150, `100-byte put${label(cli)} ≤ 150 ms CPU (${cpu.toFixed(0)} ms)`);
    target(rssMB <= 80, `100-byte put${label(cli)} ≤ 80 MB peak RSS (${rssMB.toFixed(0)} MB)`);
  }

  // 3. folders of small files
  for (const [n, runs, limit] of [
    [opts.files, opts.runs > 5 ? 5 : opts.runs, 2],
    [opts.many, opts.manyRuns, 1],
  ]) {
    if (!n || !runs) continue;
    await sb.stop();
    sb = await startSinkSandbox(opts.clis[0]);
    putEnv = { ...env, LAKEUP_TOKEN: sb.token, LAKEUP_ENDPOINT: sb.origin };
    const folder = makeFolder(n);
    const rs = new Map(opts.clis.map((c) => [c, []]));
    for (let round = 0; round < runs; round++) {
      for (const cli of opts.clis) rs.get(cli).push(timedRun(cli, ['put', folder, '-r', '-p', 'memorylake', '--again'], putEnv));
    }
    console.log(`\n### ${n} files of 1 B to 16 KiB, \`put <folder> -r\` (default flags), medians of ${runs}`);
    console.log('| command | wall s | CPU s | CPU ms/file (with start-up) | CPU ms/file (beyond a 100 B put) | peak RSS MB |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [cli, xs] of rs) {
      const cpu = median(xs.map((r) => r.cpu));
      const per = (cpu * 1000) / n;
      const beyond = (cpu * 1000 - startCpu.get(cli)) / n;
      const rssMB = (median(xs.map((r) => r.rssMiB)) * 1024 * 1024) / 1e6;
      console.log(`| lakeup${label(cli)} | ${median(xs.map((r) => r.wall)).toFixed(2)} | ${cpu.toFixed(2)} | ${per.toFixed(2)} | ${beyond.toFixed(2)} | ${rssMB.toFixed(0)} |`);
      target(per <= limit, `${n} small files${label(cli)} ≤ ${limit} ms CPU per file with start-up (${per.toFixed(2)} ms)`);
    }
  }
} finally {
  await sb.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log('\nTargets:');
for (const t of targets) console.log(t);
