#!/usr/bin/env node
// `npm run bench`: how fast and how lean lakeup's client is, against curl and its peers, in one run.
//
//   node scripts/bench.mjs [--size 1GiB] [--part-size 16MiB] [--concurrency 4] [--runs 3] [--no-big]
//                          [--no-small-parts] [--no-link] [--link-size 256MiB] [--latency 20ms]
//                          [--conn-rate 16MiB/s] [--only curl,lakeup,...] [--keep]
//
// Every upload goes to `lakeup sandbox --sink`: it counts and discards bodies without hashing (curl through it runs
// well above 1 GiB/s on two cores), and its ETags are not MD5s, so lakeup computes its MD5s but cannot compare them:
// that cost is what is measured. Sections, each alternating its commands round by round (a noisy neighbour hurts them
// all alike) and printing medians:
//   1. loopback, the same file, part size and concurrency for every tool: curl -T (one PUT, the one-stream limit),
//      lakeup, lakeup --no-verify, lakeup with its default concurrency (auto), aws s3 cp, rclone (S3 backend) and
//      @aws-sdk/lib-storage against the sandbox's S3 route;
//   2. the same at 5 MiB parts (what MemoryLake hands out);
//   3. lakeup's peak RSS at 1 and 4 GiB, 16 and 128 MiB parts (defaults otherwise);
//   4. a distant link: a second sandbox behind `--latency 20ms --conn-rate 16MiB/s`; lakeup with its default
//      concurrency and pinned at 4…64 (the best fixed one), every peer with its own defaults, curl.
// Wall time is from spawn to exit; peak RSS and CPU from GNU time (exact, wait4) or /proc polling; lakeup's CPU is
// split between its main thread (the send path) and its other threads (MD5 workers, file reads, GC) by polling
// /proc/<pid>/task. The sandbox shares the two cores with every command, curl included.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { firstLine } from './lib/bench-common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'lakeup.js');
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// ---------------------------------------------------------------- flags
function fail(msg, code = 2) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}
function parseSizeArg(text, flag) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kib|kb|mib|mb|gib|gb)?$/i.exec(String(text).trim());
  if (!m) fail(`${flag}: '${text}' is not a size (try 1GiB, 256MiB, 16MiB)`);
  const f = { b: 1, kib: KiB, kb: 1e3, mib: MiB, mb: 1e6, gib: GiB, gb: 1e9 }[(m[2] ?? 'b').toLowerCase()];
  return Math.floor(Number(m[1]) * f);
}
const TOOLS = ['curl', 'lakeup', 'lakeup-no-verify', 'lakeup-auto', 'aws', 'rclone', 'lib-storage'];
const opts = {
  size: GiB, partSize: 16 * MiB, concurrency: 4, runs: 3, big: true, small: true, link: true,
  linkSize: 256 * MiB, latency: '20ms', connRate: '16MiB/s', only: TOOLS, keep: false,
};
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const v = () => (i + 1 < a.length ? a[++i] : fail(`${k} needs a value`));
    if (k === '--size') opts.size = parseSizeArg(v(), k);
    else if (k === '--part-size') opts.partSize = parseSizeArg(v(), k);
    else if (k === '--concurrency' || k === '-c') opts.concurrency = Number.parseInt(v(), 10) || fail('--concurrency: a whole number');
    else if (k === '--runs') opts.runs = Math.max(1, Number.parseInt(v(), 10) || fail('--runs: a positive integer'));
    else if (k === '--no-big') opts.big = false;
    else if (k === '--big') opts.big = true;
    else if (k === '--no-small-parts') opts.small = false;
    else if (k === '--no-link') opts.link = false;
    else if (k === '--no-matrix') opts.big = false;
    else if (k === '--link-size') opts.linkSize = parseSizeArg(v(), k);
    else if (k === '--latency') opts.latency = v();
    else if (k === '--conn-rate') opts.connRate = v();
    else if (k === '--keep') opts.keep = true;
    else if (k === '--only') {
      opts.only = v().split(',').map((s) => s.trim()).filter(Boolean);
      for (const o of opts.only) if (!TOOLS.includes(o)) fail(`--only: unknown command '${o}' (${TOOLS.join(', ')})`);
    } else if (k === '-h' || k === '--help') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(2, 6).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else fail(`unknown flag ${k} (see --help)`);
  }
}

// ---------------------------------------------------------------- prerequisites
if (!existsSync(path.join(root, 'dist', 'lakeup.js'))) fail('dist/ is missing: run `npm run build` (npm run bench does)');
const version = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error || r.status !== 0 ? undefined : `${r.stdout}${r.stderr}`.trim().split('\n')[0];
};
const curlVersion = version('curl', ['--version']);
if (!curlVersion) fail('curl is not installed: it is the one-stream baseline every figure is compared with');
const awsVersion = version('aws', ['--version']);
const rcloneVersion = version('rclone', ['version']);
let haveLibStorage = true;
try {
  createRequire(import.meta.url).resolve('@aws-sdk/lib-storage');
} catch {
  haveLibStorage = false;
}
const missing = {
  aws: awsVersion ? undefined : 'aws (awscli) is not installed here',
  rclone: rcloneVersion ? undefined : "rclone is not installed here (Debian: apt-get install rclone)",
  'lib-storage': haveLibStorage ? undefined : '@aws-sdk/lib-storage is not installed (npm ci installs the devDependencies)',
};

const linux = process.platform === 'linux';
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
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
const maxOf = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return s.length ? Math.max(...s) : undefined;
};
const fmt = (x, d = 2, unit = '') => (x === undefined ? 'n/a' : `${x.toFixed(d)}${unit}`);
const human = (n) => (n >= GiB && n % GiB === 0 ? `${n / GiB} GiB` : n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : `${n} B`);
const mib = (n) => `${Math.round(n / MiB)}MiB`;

function procStat(file) {
  try {
    const stat = readFileSync(file, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
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
/** The command's own pid under GNU time (its only child). */
function target(pid) {
  if (!gnuTime) return pid;
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one command; resolves to wall ms, peak RSS MiB, CPU s, main-thread CPU s, exit code, stderr. */
function measure(cmd, args, { env, threads = false } = {}) {
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
    let err = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (err = (err + d).slice(-8000)));
    let hwm;
    let cpu;
    const perThread = new Map();
    let pid;
    let poll;
    if (linux && (threads || !gnuTime)) {
      poll = setInterval(() => {
        pid ??= target(child.pid);
        if (!pid) return;
        if (!gnuTime) {
          const h = procHwmKiB(pid);
          if (h !== undefined) hwm = Math.max(hwm ?? 0, h);
          const c = procStat(`/proc/${pid}/stat`);
          if (c !== undefined) cpu = c;
        }
        if (threads) {
          try {
            for (const tid of readdirSync(`/proc/${pid}/task`)) {
              const c = procStat(`/proc/${pid}/task/${tid}/stat`);
              if (c !== undefined) perThread.set(tid, c);
            }
          } catch {
            /* gone */
          }
        }
      }, 25);
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
          /* n/a */
        }
      }
      let mainCpuS;
      if (threads && pid && perThread.size) {
        const sampled = [...perThread.values()].reduce((a, b) => a + b, 0);
        const main = perThread.get(String(pid)) ?? 0;
        // Scale the sampled split to the exact total (the last ≤25 ms escape the polling).
        mainCpuS = cpu !== undefined && sampled > 0 ? (main / sampled) * cpu : main;
      }
      resolve({ code, wallMs, rssMiB: hwm !== undefined ? hwm / 1024 : undefined, cpuS: cpu, mainCpuS, err });
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

// ---------------------------------------------------------------- sandboxes
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'lakeup-bench-'));
const stateDir = path.join(work, 'state');
const sandboxes = [];
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const sb of sandboxes) {
    if (sb.exitCode !== null) continue;
    sb.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(r, 3000);
      sb.once('exit', () => (clearTimeout(t), r()));
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

async function startSandbox(name, extra = []) {
  const child = spawn(process.execPath, [cli, 'sandbox', '--sink', '--port', '0', '--host', '127.0.0.1', '--dir', path.join(work, `sandbox-${name}`), ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sandboxes.push(child);
  let errText = '';
  child.stderr.on('data', (d) => (errText += d));
  const line = await firstLine(child, (code) => `the sandbox exited (${code}): ${errText.trim()}`);
  const info = JSON.parse(line);
  return { child, origin: info.origin, token: info.token };
}

// ---------------------------------------------------------------- the commands
const INTEGRITY = {
  curl: 'none',
  lakeup: 'MD5 per part (worker threads; sink ETags: computed, not comparable)',
  'lakeup-no-verify': 'none',
  'lakeup-auto': 'MD5 per part (as lakeup)',
  aws: 'CRC32 per part (botocore default)',
  rclone: 'MD5: Content-MD5 per part, a whole-file MD5 pass first',
  'lib-storage': 'CRC32 per part (SDK default)',
};

/** `partSize`/`concurrency` undefined: the tool's own defaults. */
function command(name, { file, sb, partSize, concurrency }) {
  const key = `${path.basename(file)}-${process.hrtime.bigint()}`;
  const lakeup = (extra) => {
    const args = [cli, 'put', file, '--provider', 'copera', '--endpoint', sb.origin, '--token', sb.token, '--state-dir', stateDir, '--no-resume', '--again', '-q'];
    if (partSize) args.push('--part-size', mib(partSize));
    return { cmd: process.execPath, args: [...args, ...extra], threads: true };
  };
  switch (name) {
    case 'curl':
      return { label: 'curl -T (one PUT)', cmd: 'curl', args: ['-sS', '-f', '-o', '/dev/null', '-H', 'Expect:', '-T', file, `${sb.origin}/plain/${key}`] };
    case 'lakeup':
      return { label: concurrency ? `lakeup put -c ${concurrency}` : 'lakeup put', ...lakeup(concurrency ? ['-c', String(concurrency)] : []) };
    case 'lakeup-no-verify':
      return { label: `lakeup put --no-verify${concurrency ? ` -c ${concurrency}` : ''}`, ...lakeup(['--no-verify', ...(concurrency ? ['-c', String(concurrency)] : [])]) };
    case 'lakeup-auto':
      return { label: 'lakeup put (-c auto, the default)', ...lakeup([]) };
    case 'aws': {
      const config = path.join(work, `aws-${partSize ?? 'default'}-${concurrency ?? 'default'}.ini`);
      const s3 = [
        ...(partSize ? [`  multipart_chunksize = ${partSize}`, `  multipart_threshold = ${partSize}`] : []),
        ...(concurrency ? [`  max_concurrent_requests = ${concurrency}`] : []),
        '  addressing_style = path',
      ];
      return {
        label: `aws s3 cp${partSize ? '' : ' (defaults: 8 MiB, 10 threads)'}`,
        cmd: 'aws',
        args: ['--endpoint-url', `${sb.origin}/s3`, 's3', 'cp', file, `s3://bench/${key}`, '--only-show-errors'],
        setup: () => fs.writeFile(config, `[default]\nregion = us-east-1\ns3 =\n${s3.join('\n')}\n`),
        env: { ...process.env, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none'), AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' },
      };
    }
    case 'rclone': {
      const env = { ...process.env, RCLONE_CONFIG_BENCH_TYPE: 's3', RCLONE_CONFIG_BENCH_PROVIDER: 'Other', RCLONE_CONFIG_BENCH_ENDPOINT: `${sb.origin}/s3`, RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: 'bench', RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: 'bench', RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true' };
      delete env.AWS_CA_BUNDLE; // rclone refuses a CA bundle with its own transport; the endpoint is plain http
      const tuned = partSize ? ['--s3-chunk-size', mib(partSize), '--s3-upload-cutoff', mib(partSize), '--s3-upload-concurrency', String(concurrency)] : [];
      return {
        label: `rclone copyto (S3)${partSize ? '' : ' (defaults: 5 MiB, 4 streams)'}`,
        cmd: 'rclone',
        args: ['copyto', file, `bench:bench/${key}`, '--config', path.join(work, 'rclone.conf'), '--s3-no-check-bucket', '-q', ...tuned],
        env,
      };
    }
    case 'lib-storage':
      return {
        label: `@aws-sdk/lib-storage Upload${partSize ? '' : ' (defaults: 5 MiB, 4)'}`,
        cmd: process.execPath,
        args: [path.join(root, 'scripts', 'bench-libstorage.mjs'), sb.origin, file, String(partSize ?? 5 * MiB), String(concurrency ?? 4)],
      };
  }
  throw new Error(name);
}

async function one(name, c, sb) {
  await c.setup?.();
  const cpu0 = procStat(`/proc/${sb.child.pid}/stat`);
  const r = await measure(c.cmd, c.args, { env: c.env, threads: c.threads });
  const cpu1 = procStat(`/proc/${sb.child.pid}/stat`);
  r.serverCpuS = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  r.warned = name.startsWith('lakeup') && /Warning/.test(r.err);
  if (r.code !== 0) process.stderr.write(`bench: ${name} failed (exit ${r.code}):\n${r.err.trim().split('\n').slice(-5).join('\n')}\n`);
  return r;
}

/** Alternates `rows` ([{ name, spec }]) `runs` times after an untimed warm-up; returns results per row. */
async function suite(title, rows, sb, { warmup = true } = {}) {
  const live = rows.filter((r) => {
    const why = missing[r.name];
    if (why) process.stderr.write(`bench: ${title}: skipping ${r.name}: ${why}\n`);
    return !why;
  });
  if (warmup) {
    process.stderr.write(`bench: ${title}: warm-up (untimed)\n`);
    for (const r of live) await one(r.name, command(r.name, r.spec), sb);
  }
  const results = new Map(live.map((r) => [r, []]));
  for (let run = 1; run <= opts.runs; run++) {
    process.stderr.write(`bench: ${title}: round ${run}/${opts.runs}\n`);
    for (const r of live) {
      const res = await one(r.name, command(r.name, r.spec), sb);
      process.stderr.write(`  ${(r.label ?? r.name).padEnd(34)} ${(res.wallMs / 1000).toFixed(2)}s  rss ${fmt(res.rssMiB, 0, ' MiB')}  cpu ${fmt(res.cpuS, 2, 's')}  main ${fmt(res.mainCpuS, 2, 's')}  sandbox ${fmt(res.serverCpuS, 2, 's')}${res.code ? `  FAILED (${res.code})` : ''}\n`);
      results.get(r).push(res);
    }
  }
  return { title, rows: live, results };
}

function summarize(s, size) {
  const gib = size / GiB;
  const out = new Map();
  for (const r of s.rows) {
    const rs = s.results.get(r);
    const ok = rs.filter((x) => x.code === 0);
    const cpu = median(ok.map((x) => x.cpuS));
    const main = median(ok.map((x) => x.mainCpuS));
    out.set(r, {
      failed: rs.length - ok.length,
      wall: median(ok.map((x) => x.wallMs)),
      rss: maxOf(ok.map((x) => x.rssMiB)),
      cpuGiB: cpu !== undefined ? cpu / gib : undefined,
      mainGiB: main !== undefined ? main / gib : undefined,
      otherGiB: cpu !== undefined && main !== undefined ? (cpu - main) / gib : undefined,
      serverGiB: median(ok.map((x) => x.serverCpuS)) !== undefined ? median(ok.map((x) => x.serverCpuS)) / gib : undefined,
      warned: rs.some((x) => x.warned),
    });
  }
  return out;
}

function table(s, size, heading) {
  const sum = summarize(s, size);
  const curl = [...sum.entries()].find(([r]) => r.name === 'curl')?.[1]?.wall;
  const lines = [
    `| ${heading} | median wall | × curl | CPU s/GiB (main thread + others) | sandbox CPU s/GiB | peak RSS | integrity check |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const [r, x] of sum) {
    const cpu = x.mainGiB !== undefined ? `${fmt(x.cpuGiB)} (${fmt(x.mainGiB)} + ${fmt(x.otherGiB)})` : fmt(x.cpuGiB);
    lines.push(
      `| ${r.label ?? command(r.name, r.spec).label}${x.failed ? ` (${x.failed} failed)` : ''} | ${fmt(x.wall && x.wall / 1000, 2, ' s')} | ${
        x.wall && curl ? `${(x.wall / curl).toFixed(2)}x` : 'n/a'
      } | ${cpu} | ${fmt(x.serverGiB)} | ${fmt(x.rss, 0, ' MiB')} | ${INTEGRITY[r.name] ?? ''} |`,
    );
  }
  return { text: lines.join('\n'), sum, curl };
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    /* not Linux */
  }
  const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  return `${cores} cores (${cpu.trim()}), ${(os.totalmem() / GiB).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}; ${curlVersion.split(' ').slice(0, 2).join(' ')}; ${
    awsVersion ? awsVersion.split(' ')[0] : 'no aws'
  }; ${rcloneVersion ?? 'no rclone'}`;
}

// ---------------------------------------------------------------- main
let exitCode = 0;
try {
  const started = Date.now();
  process.stderr.write(`bench: measuring with ${method}; work folder ${work}\n`);
  const sb = await startSandbox('loopback');
  const out = [];
  const checks = [];
  const check = (what, ok, detail) => checks.push(`- ${ok === undefined ? '?' : ok ? 'met' : 'NOT met'}: ${what} (${detail})`);
  const byName = (sum, name) => [...sum.entries()].find(([r]) => r.name === name)?.[1];
  const ratio = (a, b) => (a !== undefined && b !== undefined ? a / b : undefined);
  const warnings = [];

  const file = path.join(work, 'bench-1.bin');
  process.stderr.write(`bench: creating ${human(opts.size)} of random bytes\n`);
  await makeFile(file, opts.size);

  // 1 and 2: loopback, everyone on the same footing.
  const partSizes = [opts.partSize, ...(opts.small && opts.partSize !== 5 * MiB ? [5 * MiB] : [])];
  const loop = [];
  for (const partSize of partSizes) {
    const rows = opts.only.map((name) => ({ name, spec: { file, sb, partSize, concurrency: name === 'lakeup-auto' ? undefined : opts.concurrency } }));
    for (const r of rows) r.label = command(r.name, r.spec).label;
    const s = await suite(`${human(opts.size)} at ${human(partSize)}`, rows, sb);
    const t = table(s, opts.size, `${human(opts.size)}, ${human(partSize)} parts, concurrency ${opts.concurrency}`);
    loop.push({ partSize, t });
    out.push(t.text, '');
    for (const [, x] of t.sum) if (x.warned) warnings.push(`${human(partSize)} run`);
  }
  const [A, B] = loop;
  if (A) {
    const s = A.t.sum;
    const v = byName(s, 'lakeup');
    const nv = byName(s, 'lakeup-no-verify');
    const auto = byName(s, 'lakeup-auto');
    if (nv?.wall) check('--no-verify ≤ 1.5x curl', nv.wall / A.t.curl <= 1.5, `${(nv.wall / A.t.curl).toFixed(2)}x`);
    if (v?.wall) check('verifying ≤ 3.2x curl', v.wall / A.t.curl <= 3.2, `${(v.wall / A.t.curl).toFixed(2)}x`);
    for (const peer of ['aws', 'rclone', 'lib-storage']) {
      const p = byName(s, peer);
      if (v?.wall && p?.wall) check(`verifying faster than ${peer}`, v.wall < p.wall, `${(v.wall / 1000).toFixed(2)} s vs ${(p.wall / 1000).toFixed(2)} s`);
    }
    if (v?.mainGiB && nv?.mainGiB) {
      check(
        'with a spare core, verifying costs ≤ 1.2x --no-verify (the send path, the main thread, per GiB)',
        v.mainGiB / nv.mainGiB <= 1.2,
        `${v.mainGiB.toFixed(2)} vs ${nv.mainGiB.toFixed(2)} CPU s/GiB = ${(v.mainGiB / nv.mainGiB).toFixed(2)}x; MD5 and reads on other threads: ${fmt(v.otherGiB)} s/GiB`,
      );
    }
    if (auto?.wall && v?.wall) check('-c auto no slower than -c 4 on loopback (within 10%)', auto.wall <= v.wall * 1.1, `${(auto.wall / 1000).toFixed(2)} s vs ${(v.wall / 1000).toFixed(2)} s`);
  }
  if (A && B) {
    for (const n of ['lakeup', 'lakeup-no-verify']) {
      const r = ratio(byName(B.t.sum, n)?.wall, byName(A.t.sum, n)?.wall);
      if (r !== undefined) check(`${n}: 5 MiB parts ≤ 1.3x ${human(A.partSize)} parts`, r <= 1.3, `${r.toFixed(2)}x`);
    }
  }

  // 3: memory across sizes and part sizes (defaults otherwise).
  if (opts.big) {
    const big = path.join(work, 'bench-4.bin');
    process.stderr.write('bench: creating 4 GiB of random bytes\n');
    await makeFile(big, 4 * GiB);
    const rows = [];
    for (const [f, size] of [[file, opts.size], [big, 4 * GiB]]) {
      for (const partSize of [16 * MiB, 128 * MiB]) rows.push({ name: 'lakeup', label: `lakeup put, ${human(size)}, ${human(partSize)} parts`, spec: { file: f, sb, partSize } });
    }
    const s = await suite('memory', rows, sb, { warmup: false });
    const lines = ['| lakeup put (defaults: verifying, -c auto) | median wall | peak RSS |', '| --- | ---: | ---: |'];
    const rss = [];
    for (const r of s.rows) {
      const ok = s.results.get(r).filter((x) => x.code === 0);
      const m = maxOf(ok.map((x) => x.rssMiB));
      rss.push(m);
      lines.push(`| ${r.label} | ${fmt(median(ok.map((x) => x.wallMs / 1000)), 2, ' s')} | ${fmt(m, 0, ' MiB')} |`);
      if (ok.some((x) => x.warned)) warnings.push(r.label);
    }
    out.push(lines.join('\n'), '');
    const hi = maxOf(rss);
    const lo = Math.min(...rss.filter((x) => x !== undefined));
    if (hi !== undefined) {
      check('peak RSS ≤ 150 MB at 1 and 4 GiB, 16 and 128 MiB parts', hi * MiB <= 150e6, `${((hi * MiB) / 1e6).toFixed(0)} MB at most`);
      check('peak RSS flat (within 10%)', hi / lo <= 1.1, `${((lo * MiB) / 1e6).toFixed(0)}–${((hi * MiB) / 1e6).toFixed(0)} MB`);
    }
    if (!opts.keep) await fs.rm(big, { force: true });
  }

  // 4: a distant link.
  if (opts.link) {
    const sbl = await startSandbox('link', ['--latency', opts.latency, '--conn-rate', opts.connRate]);
    const lf = path.join(work, 'bench-link.bin');
    await makeFile(lf, opts.linkSize);
    const ps = opts.partSize;
    const rows = [
      { name: 'curl', spec: { file: lf, sb: sbl } },
      { name: 'lakeup', label: `lakeup put (defaults, ${human(ps)} parts)`, spec: { file: lf, sb: sbl, partSize: ps } },
      ...[4, 8, 16, 32, 64].map((c) => ({ name: 'lakeup', label: `lakeup put -c ${c}`, fixed: c, spec: { file: lf, sb: sbl, partSize: ps, concurrency: c } })),
      ...['aws', 'rclone', 'lib-storage'].filter((n) => opts.only.includes(n)).map((name) => ({ name, spec: { file: lf, sb: sbl } })),
    ];
    for (const r of rows) r.label ??= command(r.name, r.spec).label;
    const s = await suite(`link (${opts.latency} each way, ${opts.connRate} per connection), ${human(opts.linkSize)}`, rows, sbl, { warmup: false });
    const t = table(s, opts.linkSize, `${human(opts.linkSize)} over a link: ${opts.latency} each way, ${opts.connRate} per connection`);
    out.push(t.text, '');
    const auto = t.sum.get(rows[1]);
    const fixed = rows.filter((r) => r.fixed).map((r) => ({ c: r.fixed, wall: t.sum.get(r)?.wall })).filter((x) => x.wall);
    const best = fixed.sort((a, b) => a.wall - b.wall)[0];
    if (auto?.wall && best) check('link: default concurrency ≥ 90% of the best fixed one', best.wall / auto.wall >= 0.9, `${((best.wall / auto.wall) * 100).toFixed(0)}% of -c ${best.c} (${(best.wall / 1000).toFixed(2)} s vs ${(auto.wall / 1000).toFixed(2)} s)`);
    for (const peer of ['aws', 'rclone', 'lib-storage']) {
      const p = byName(t.sum, peer);
      if (auto?.wall && p?.wall) check(`link: faster than ${peer} with its defaults`, auto.wall < p.wall, `${(auto.wall / 1000).toFixed(2)} s vs ${(p.wall / 1000).toFixed(2)} s`);
    }
    for (const [, x] of t.sum) if (x.warned) warnings.push('link run');
    if (!opts.keep) await fs.rm(lf, { force: true });
  }
  check('no Node warning on any lakeup run', warnings.length === 0, warnings.length ? warnings.join(', ') : 'stderr of every run checked');

  const date = new Date().toISOString().slice(0, 10);
  const head = [
    `Machine: ${machine()}. ${date}. Peak RSS and CPU by ${method}; lakeup's main-thread share by /proc/<pid>/task polling; medians of ${opts.runs} alternating runs.`,
    'Every command uploads to `lakeup sandbox --sink` (counts and discards bodies, no hashing; its ETags are not MD5s) on the same two cores; its CPU per GiB is a column.',
    '',
  ];
  process.stdout.write(`\n${[...head, ...out, 'Targets:', ...checks, '', `(${((Date.now() - started) / 1000).toFixed(0)} s in all)`].join('\n')}\n`);
} catch (err) {
  process.stderr.write(`bench: ${err && err.stack ? err.stack : String(err)}\n`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exitCode = exitCode;
