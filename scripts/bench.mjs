#!/usr/bin/env node
// `npm run bench`: lakeup against the one-stream limit (curl -T) and the Node peer (lib-storage),
// all against one local sandbox in sink mode (bodies hashed and discarded), in one run.
//
//   node scripts/bench.mjs [--size 1GiB] [--big] [--runs 3] [--part-size 10MiB] [--concurrency 4]
//                          [--only curl,lakeup,lakeup-no-verify,lib-storage] [--no-matrix] [--keep]
//
// Creates a random file in os.tmpdir() once, starts `lakeup sandbox --sink --port 0`, then alternates
// the commands round by round (so a noisy neighbour hurts them all alike) and prints medians. Every
// command runs as a child process: wall time from spawn to exit; peak RSS and CPU time from GNU time
// when it is installed, else by polling /proc/<pid>/status (VmHWM) and /proc/<pid>/stat (utime+stime)
// on Linux, else n/a. The sandbox is one Node process on the same machine: every command, curl too,
// shares the cores with it, and its CPU per GiB is shown next to each command's.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { existsSync, readFileSync, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'lakeup.js');
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// ---------------------------------------------------------------- flags
function parseSizeArg(text, flag) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kib|kb|mib|mb|gib|gb|tib|tb)?$/i.exec(String(text).trim());
  if (!m) fail(`${flag}: '${text}' is not a size (try 1GiB, 512MiB, 16MiB)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const f = { b: 1, kib: KiB, kb: 1e3, mib: MiB, mb: 1e6, gib: GiB, gb: 1e9, tib: 1024 * GiB, tb: 1e12 }[unit];
  return Math.floor(Number(m[1]) * f);
}

function fail(msg, code = 2) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}

const ALL = ['curl', 'lakeup', 'lakeup-no-verify', 'lib-storage'];
const opts = { size: GiB, big: false, runs: 3, partSize: undefined, concurrency: undefined, keep: false, only: ALL, matrix: true };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const v = () => (i + 1 < a.length ? a[++i] : fail(`${k} needs a value`));
    if (k === '--size') opts.size = parseSizeArg(v(), k);
    else if (k === '--big') opts.big = true;
    else if (k === '--runs') opts.runs = Math.max(1, Number.parseInt(v(), 10) || fail('--runs: a positive integer'));
    else if (k === '--part-size') opts.partSize = v();
    else if (k === '--concurrency' || k === '-c') opts.concurrency = String(Number.parseInt(v(), 10) || fail('--concurrency: an integer'));
    else if (k === '--keep') opts.keep = true;
    else if (k === '--no-matrix') opts.matrix = false;
    else if (k === '--only') {
      opts.only = v().split(',').map((s) => s.trim()).filter(Boolean);
      for (const o of opts.only) if (!ALL.includes(o)) fail(`--only: unknown command '${o}' (${ALL.join(', ')})`);
    } else if (k === '-h' || k === '--help') {
      process.stdout.write(
        'usage: node scripts/bench.mjs [--size 1GiB] [--big] [--runs 3] [--part-size <size>] [--concurrency <n>]\n' +
          '                              [--only curl,lakeup,lakeup-no-verify,lib-storage] [--no-matrix] [--keep]\n',
      );
      process.exit(0);
    } else fail(`unknown flag ${k} (see --help)`);
  }
}

// ---------------------------------------------------------------- prerequisites
if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) fail('dist/ is missing: run `npm run build` (npm run bench does)');
const curlVersion = spawnSync('curl', ['--version'], { encoding: 'utf8' });
if (curlVersion.error || curlVersion.status !== 0) {
  fail('curl is not installed (or not on PATH): the one-stream baseline `curl -T` is what lakeup is compared with; install curl and run again');
}
let haveLibStorage = true;
try {
  createRequire(import.meta.url).resolve('@aws-sdk/lib-storage');
} catch {
  haveLibStorage = false;
}

const linux = process.platform === 'linux';
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
/** GNU time (not BusyBox's, not the shell keyword): exact max RSS and CPU from wait4(). */
const gnuTime = (() => {
  for (const p of ['/usr/bin/time', '/bin/time']) {
    if (!existsSync(p)) continue;
    const r = spawnSync(p, ['--version'], { encoding: 'utf8' });
    if (`${r.stdout}${r.stderr}`.includes('GNU')) return p;
  }
  return undefined;
})();
const method = gnuTime ? 'GNU time' : linux ? '/proc polling' : 'n/a';

// ---------------------------------------------------------------- helpers
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const max = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return s.length ? Math.max(...s) : undefined;
};
const fmt = (x, d = 2, unit = '') => (x === undefined ? 'n/a' : `${x.toFixed(d)}${unit}`);
const human = (n) => (n >= GiB && n % GiB === 0 ? `${n / GiB} GiB` : n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : `${n} B`);

function procCpuSeconds(pid) {
  if (!linux) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  } catch {
    return undefined;
  }
}
function procHwmKiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one command as a child; resolves to wall ms, peak RSS (MiB), CPU seconds, exit code and output. */
function measure(cmd, args, { env } = {}) {
  return new Promise((resolve) => {
    let timeFile;
    let file = cmd;
    let argv = args;
    if (gnuTime) {
      timeFile = path.join(work, `time-${process.hrtime.bigint()}.txt`);
      file = gnuTime;
      argv = ['-f', '%M %U %S', '-o', timeFile, cmd, ...args];
    }
    const t0 = process.hrtime.bigint();
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-8000)));
    let hwm;
    let cpu;
    let poll;
    if (!gnuTime && linux) {
      poll = setInterval(() => {
        const h = procHwmKiB(child.pid);
        const c = procCpuSeconds(child.pid);
        if (h !== undefined) hwm = Math.max(hwm ?? 0, h);
        if (c !== undefined) cpu = c;
      }, 10);
    }
    child.on('close', async (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (poll) clearInterval(poll);
      if (timeFile) {
        try {
          const [m, u, s] = (await fs.readFile(timeFile, 'utf8')).trim().split('\n').pop().split(/\s+/).map(Number);
          hwm = m;
          cpu = u + s;
          await fs.rm(timeFile, { force: true });
        } catch {
          /* leave n/a */
        }
      }
      resolve({ code, wallMs, rssMiB: hwm !== undefined ? hwm / 1024 : undefined, cpuS: cpu, out, err });
    });
  });
}

async function makeFile(file, size) {
  const out = createWriteStream(file);
  const buf = Buffer.allocUnsafe(8 * MiB);
  for (let left = size; left > 0; ) {
    const n = Math.min(left, buf.length);
    await new Promise((r, j) => randomFill(buf, 0, n, (e) => (e ? j(e) : r())));
    if (!out.write(Buffer.from(buf.subarray(0, n)))) await new Promise((r) => out.once('drain', r));
    left -= n;
  }
  await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
}

// ---------------------------------------------------------------- sandbox
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'lakeup-bench-'));
const stateDir = path.join(work, 'state');
let sandbox;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (sandbox && sandbox.exitCode === null) {
    sandbox.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(r, 3000);
      sandbox.once('exit', () => (clearTimeout(t), r()));
    });
  }
  if (opts.keep) process.stderr.write(`bench: kept ${work}\n`);
  else await fs.rm(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    process.stderr.write(`\nbench: ${sig}: cleaning up\n`);
    void cleanup().then(() => process.exit(130));
  });
}

async function startSandbox() {
  const child = spawn(process.execPath, [cli, 'sandbox', '--sink', '--port', '0', '--host', '127.0.0.1', '--dir', path.join(work, 'sandbox-files')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errText = '';
  child.stderr.on('data', (d) => (errText += d));
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code}): ${errText.trim()}`)));
  });
  const info = JSON.parse(line);
  return { child, origin: info.origin, token: info.token };
}

// ---------------------------------------------------------------- the commands
function lakeupArgs(file, origin, token, extra = []) {
  const args = [cli, 'put', file, '--provider', 'copera', '--endpoint', origin, '--token', token, '--state-dir', stateDir, '--no-resume', '-q'];
  if (opts.partSize) args.push('--part-size', opts.partSize);
  if (opts.concurrency) args.push('--concurrency', opts.concurrency);
  return [...args, ...extra];
}

function commands(file, origin, token, plan) {
  return {
    curl: {
      label: 'curl -T (one PUT)',
      cmd: 'curl',
      args: ['-sS', '-f', '-o', '/dev/null', '-H', 'Expect:', '-T', file, `${origin}/plain/${path.basename(file)}`],
    },
    lakeup: { label: 'lakeup put', cmd: process.execPath, args: lakeupArgs(file, origin, token) },
    'lakeup-no-verify': { label: 'lakeup put --no-verify', cmd: process.execPath, args: lakeupArgs(file, origin, token, ['--no-verify']) },
    'lib-storage': {
      label: '@aws-sdk/lib-storage Upload',
      cmd: process.execPath,
      args: [path.join(root, 'scripts', 'bench-libstorage.mjs'), origin, file, String(plan.partSize), String(plan.concurrency)],
      skip: haveLibStorage ? undefined : '@aws-sdk/lib-storage is not installed (npm ci installs the devDependencies)',
    },
  };
}

/** lakeup's own plan for this file: part size and concurrency (lib-storage gets the same). */
function dryPlan(file, origin, token) {
  const r = spawnSync(process.execPath, [...lakeupArgs(file, origin, token), '--dry-run', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) fail(`lakeup --dry-run failed: ${r.stderr.trim()}`, 1);
  const p = JSON.parse(r.stdout.trim().split('\n').pop());
  return { partSize: p.partSize, parts: p.parts, concurrency: p.concurrency };
}

async function one(name, c, sandboxPid) {
  const cpu0 = procCpuSeconds(sandboxPid);
  const r = await measure(c.cmd, c.args);
  const cpu1 = procCpuSeconds(sandboxPid);
  r.serverCpuS = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  if (r.code !== 0) {
    process.stderr.write(`bench: ${name} failed (exit ${r.code}):\n${r.err.trim().split('\n').slice(-5).join('\n')}\n`);
  }
  return r;
}

function progress(name, r) {
  process.stderr.write(
    `  ${name.padEnd(18)} ${(r.wallMs / 1000).toFixed(2)}s  rss ${fmt(r.rssMiB, 0, ' MiB')}  cpu ${fmt(r.cpuS, 2, 's')}  sandbox cpu ${fmt(r.serverCpuS, 2, 's')}${r.code ? `  FAILED (${r.code})` : ''}\n`,
  );
}

/** Alternates the commands `runs` times on one file; returns per-command results. */
async function suite(file, size, sb) {
  const plan = dryPlan(file, sb.origin, sb.token);
  const cmds = commands(file, sb.origin, sb.token, plan);
  const names = opts.only.filter((n) => !cmds[n].skip);
  for (const n of opts.only) if (cmds[n].skip) process.stderr.write(`bench: skipping ${n}: ${cmds[n].skip}\n`);
  process.stderr.write(`bench: ${human(size)}: warm-up (untimed)\n`);
  for (const n of names) await one(n, cmds[n], sb.child.pid);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let run = 1; run <= opts.runs; run++) {
    process.stderr.write(`bench: ${human(size)}: round ${run}/${opts.runs}\n`);
    for (const n of names) {
      const r = await one(n, cmds[n], sb.child.pid);
      progress(n, r);
      results[n].push(r);
    }
  }
  return { plan, cmds, names, results };
}

/** lakeup (verifying) at 16 MiB and 128 MiB parts: the memory target holds whatever the part size. */
async function partMatrix(file, size, sb) {
  const rows = [];
  for (const ps of ['16MiB', '128MiB']) {
    const args = [...lakeupArgs(file, sb.origin, sb.token).filter((_, i, a) => a[i] !== '--part-size' && a[i - 1] !== '--part-size'), '--part-size', ps];
    const rs = [];
    for (let run = 1; run <= opts.runs; run++) {
      const r = await one(`lakeup ${ps}`, { cmd: process.execPath, args }, sb.child.pid);
      progress(`lakeup --part-size ${ps}`, r);
      rs.push(r);
    }
    rows.push({ partSize: ps, rs });
  }
  return rows;
}

function table(size, s) {
  const curl = s.results.curl ? median(s.results.curl.filter((r) => r.code === 0).map((r) => r.wallMs)) : undefined;
  const lines = [
    `| ${human(size)}, part ${human(s.plan.partSize)} (${s.plan.parts} parts), concurrency ${s.plan.concurrency} | median wall | throughput | × curl | peak RSS (max) | CPU s/GiB | sandbox CPU s/GiB |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const summary = {};
  for (const n of s.names) {
    const ok = s.results[n].filter((r) => r.code === 0);
    const failed = s.results[n].length - ok.length;
    const wall = median(ok.map((r) => r.wallMs));
    const rss = max(ok.map((r) => r.rssMiB));
    const cpu = median(ok.map((r) => r.cpuS));
    const scpu = median(ok.map((r) => r.serverCpuS));
    const gib = size / GiB;
    summary[n] = { wall, rss, ratio: wall !== undefined && curl ? wall / curl : undefined };
    lines.push(
      `| ${s.cmds[n].label}${failed ? ` (${failed} failed)` : ''} | ${fmt(wall && wall / 1000, 2, ' s')} | ${wall ? `${((size / MiB) / (wall / 1000)).toFixed(0)} MiB/s` : 'n/a'} | ${
        summary[n].ratio !== undefined ? `${summary[n].ratio.toFixed(2)}x` : 'n/a'
      } | ${fmt(rss, 0, ' MiB')} | ${fmt(cpu !== undefined ? cpu / gib : undefined, 2)} | ${fmt(scpu !== undefined ? scpu / gib : undefined, 2)} |`,
    );
  }
  return { text: lines.join('\n'), summary };
}

function matrixTable(rowsBySize) {
  const lines = ['| lakeup put (verifying) | part size | median wall | peak RSS (max) |', '| --- | --- | ---: | ---: |'];
  for (const { size, rows } of rowsBySize) {
    for (const { partSize, rs } of rows) {
      const ok = rs.filter((r) => r.code === 0);
      lines.push(`| ${human(size)} | ${partSize} | ${fmt(median(ok.map((r) => r.wallMs / 1000)), 2, ' s')} | ${fmt(max(ok.map((r) => r.rssMiB)), 0, ' MiB')} |`);
    }
  }
  return lines.join('\n');
}

async function startupTimes() {
  const out = {};
  for (const flag of ['--version', '--help']) {
    const ts = [];
    for (let i = 0; i < 10; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [cli, flag], { stdio: 'ignore' });
      ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 0) fail(`lakeup ${flag} exited ${r.status}`, 1);
    }
    out[flag] = median(ts);
  }
  const bare = [];
  for (let i = 0; i < 10; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    bare.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  out.node = median(bare);
  return out;
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    /* not Linux */
  }
  const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  return `${cores} cores (${cpu.trim()}), ${(os.totalmem() / GiB).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, ${
    curlVersion.stdout.split('\n')[0].split(' ').slice(0, 2).join(' ')
  }`;
}

// ---------------------------------------------------------------- main
let exitCode = 0;
try {
  const started = Date.now();
  process.stderr.write(`bench: measuring with ${method}; work folder ${work}\n`);
  const startup = await startupTimes();
  const sb = await startSandbox();
  sandbox = sb.child;
  process.stderr.write(`bench: sandbox (sink) at ${sb.origin}, pid ${sb.child.pid}\n`);

  const sizes = [opts.size, ...(opts.big ? [4 * GiB] : [])];
  const sections = [];
  const matrices = [];
  for (const size of sizes) {
    const file = path.join(work, `bench-${human(size).replace(' ', '')}.bin`);
    process.stderr.write(`bench: creating ${human(size)} of random bytes in ${file}\n`);
    await makeFile(file, size);
    const s = await suite(file, size, sb);
    sections.push({ size, s, t: table(size, s) });
    if (opts.matrix) matrices.push({ size, rows: await partMatrix(file, size, sb) });
    if (!opts.keep) await fs.rm(file, { force: true });
  }

  const date = new Date().toISOString().slice(0, 10);
  const out = [];
  out.push(`Machine: ${machine()}. ${date}. Peak RSS and CPU by ${method}; medians of ${opts.runs} alternating runs.`);
  out.push(
    'All commands upload to one `lakeup sandbox --sink` (a single Node process that MD5-hashes and discards the bodies) on the same machine: it competes with the client for the cores, curl included; its CPU per GiB is the last column.',
  );
  out.push('');
  for (const { t } of sections) out.push(t.text, '');
  if (matrices.length) out.push(matrixTable(matrices), '');
  out.push(
    `Start-up (median of 10): \`lakeup --version\` ${startup['--version'].toFixed(0)} ms, \`lakeup --help\` ${startup['--help'].toFixed(0)} ms (\`node -e 0\` alone: ${startup.node.toFixed(0)} ms).`,
  );

  // Targets, judged on this run.
  const checks = [];
  const check = (what, ok, detail) => checks.push(`- ${ok === undefined ? '?' : ok ? 'met' : 'NOT met'}: ${what} (${detail})`);
  for (const { size, t } of sections) {
    const s = t.summary;
    if (s['lakeup-no-verify']?.ratio !== undefined) check(`${human(size)}: --no-verify ≤ 1.1x curl`, s['lakeup-no-verify'].ratio <= 1.1, `${s['lakeup-no-verify'].ratio.toFixed(2)}x`);
    if (s.lakeup?.ratio !== undefined) check(`${human(size)}: default (verifying) ≤ 1.3x curl`, s.lakeup.ratio <= 1.3, `${s.lakeup.ratio.toFixed(2)}x`);
    if (s.lakeup?.wall !== undefined && s['lib-storage']?.wall !== undefined) {
      check(`${human(size)}: faster than lib-storage`, s.lakeup.wall < s['lib-storage'].wall, `${(s.lakeup.wall / 1000).toFixed(2)} s vs ${(s['lib-storage'].wall / 1000).toFixed(2)} s`);
    }
    for (const n of ['lakeup', 'lakeup-no-verify']) {
      if (s[n]?.rss !== undefined) check(`${human(size)}: ${n} peak RSS ≤ 64 MB`, s[n].rss * MiB <= 64e6, `${(s[n].rss * MiB / 1e6).toFixed(0)} MB`);
    }
  }
  for (const { size, rows } of matrices) {
    for (const { partSize, rs } of rows) {
      const r = max(rs.filter((x) => x.code === 0).map((x) => x.rssMiB));
      if (r !== undefined) check(`${human(size)} at ${partSize} parts: peak RSS ≤ 64 MB`, r * MiB <= 64e6, `${(r * MiB / 1e6).toFixed(0)} MB`);
    }
  }
  check('start-up ≤ 150 ms', Math.max(startup['--version'], startup['--help']) <= 150, `${startup['--version'].toFixed(0)} / ${startup['--help'].toFixed(0)} ms`);
  out.push('', 'Targets:', ...checks);
  out.push('', `(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  process.stdout.write(`\n${out.join('\n')}\n`);
  if (sections.some(({ s }) => Object.values(s.results).some((rs) => rs.some((r) => r.code !== 0)))) exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: ${err && err.stack ? err.stack : String(err)}\n`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exitCode = exitCode;
