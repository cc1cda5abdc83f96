// What the many-files and start-up benchmarks share: GNU time, a sandbox in its own process, folders
// of small files, one measured lakeup run, medians.
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** GNU time (exact CPU user+sys and peak RSS from wait4), or undefined. */
export const gnuTime = ['/usr/bin/time', '/bin/time'].find((p) => existsSync(p) && spawnSync(p, ['-f', '%M', 'true']).status === 0);

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A folder of `n` files of 1 byte to 16 KiB in folders of 100 (kept in the temp folder between runs). */
export function makeFolder(n) {
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

/** The first line a child (a sandbox: its JSON line) writes on stdout; rejects if it exits first. */
export function firstLine(child, why = (code) => `sandbox exited with ${code}`) {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(why(code))));
  });
}

/** Starts `lakeup sandbox --sink` in its own process; resolves with its origin, token, stats and stop. */
export async function startSinkSandbox(cli, args = []) {
  const child = spawn(process.execPath, [cli, 'sandbox', '--port', '0', '--sink', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await firstLine(child);
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

/** Runs `node <cli> <args>` under GNU time; wall s, CPU s (user+sys) and peak RSS MiB. Throws unless it exits 0. */
export function timedRun(cli, args, env) {
  const t0 = performance.now();
  const r = spawnSync(gnuTime, ['-f', 'RUSAGE %U %S %M', process.execPath, cli, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const wall = (performance.now() - t0) / 1000;
  const m = /RUSAGE ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`lakeup failed (${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
  return { wall, cpu: Number(m[1]) + Number(m[2]), rssMiB: Number(m[3]) / 1024 };
}

/**
 * `--name value` flags over `defaults` (a script's options): an unknown flag is one line and exit 2.
 * `convert(name, text)` turns a value into the option's type (default: a number where the default is one).
 */
export function flagsOf(script, defaults, convert = (k, v) => (typeof defaults[k] === 'number' ? Number(v) : v)) {
  const opts = { ...defaults };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '');
    if (!(k in opts)) {
      process.stderr.write(`${script}: unknown flag ${a[i]}\n`);
      process.exit(2);
    }
    opts[k] = convert(k, a[i + 1]);
  }
  return opts;
}

