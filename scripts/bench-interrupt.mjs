#!/usr/bin/env node
// `npm run bench` (interruptions): how much of what was sent an interrupted upload keeps, and how
// soon it exits, with the default flags on a slow link — the case where parts take long.
//
//   node scripts/bench-interrupt.mjs [--size 300MiB] [--rate 20MiB/s] [--at 0.4] [--runs 3]
//
// Each round uploads one file to Copera (10 MiB parts) at --limit-rate and interrupts it once the
// sandbox has received `--at` of the file: Ctrl-C (SIGINT); a CI cancellation (SIGINT, then SIGTERM
// 2 s later, as GitHub Actions does within 7.5 s); a second signal at once (0.1 s later); kill -9. "Sent" is what the storage received
// (aborted parts included), "kept" what the state file holds for the rerun. Medians are printed.
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { flagsOf, median } from './lib/bench-common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'lakeup.js');
const { startSandbox, parseSize } = await import(pathToFileURL(path.join(root, 'dist', 'dev.js')).href);

const opts = flagsOf('bench-interrupt', { size: '300MiB', rate: '20MiB/s', at: 0.4, runs: 3 });
const size = parseSize(opts.size, '--size');
const MiB = 1024 * 1024;

const work = mkdtempSync(path.join(os.tmpdir(), 'lakeup-bench-interrupt-'));
const file = path.join(work, 'big.bin');
{
  const fd = openSync(file, 'w');
  const buf = Buffer.alloc(8 * MiB);
  for (let left = size; left > 0; left -= buf.length) writeSync(fd, randomFillSync(buf), 0, Math.min(left, buf.length));
  closeSync(fd);
}
const sb = await startSandbox({ port: 0, dir: path.join(work, 'store') });
const env = { ...process.env, LAKEUP_ENDPOINT: sb.origin, LAKEUP_TOKEN: sb.token };
const waitUntil = async (fn) => {
  while (!fn()) await new Promise((r) => setTimeout(r, 10));
};

function run(args, stateDir) {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...env, LAKEUP_STATE_DIR: stateDir }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((r) => child.on('close', (code, signal) => r({ code, signal, stderr })));
  return { child, done };
}

async function keptBytes(stateDir) {
  const chunks = [];
  const child = spawn(process.execPath, [cli, 'list', '--json'], { env: { ...env, LAKEUP_STATE_DIR: stateDir } });
  child.stdout.on('data', (d) => chunks.push(d));
  await new Promise((r) => child.on('close', r));
  const u = JSON.parse(Buffer.concat(chunks).toString()).uploads?.[0];
  return u ? u.doneBytes : 0;
}

const cases = {
  'Ctrl-C': async (child) => child.kill('SIGINT'),
  'CI cancel (SIGINT, SIGTERM 2 s later)': async (child, exited) => {
    child.kill('SIGINT');
    await Promise.race([new Promise((r) => setTimeout(r, 2000)), exited]);
    child.kill('SIGTERM');
  },
  'Ctrl-C twice (SIGINT, SIGTERM 0.1 s later)': async (child, exited) => {
    child.kill('SIGINT');
    await Promise.race([new Promise((r) => setTimeout(r, 100)), exited]);
    child.kill('SIGTERM');
  },
  'kill -9': async (child) => child.kill('SIGKILL'),
};

const rows = [];
for (const [name, interrupt] of Object.entries(cases)) {
  const ratios = [];
  const exits = [];
  for (let i = 0; i < opts.runs; i++) {
    const stateDir = path.join(work, `state-${name.length}-${i}`);
    const from = sb.stats().bytesReceived;
    const { child, done } = run(['put', file, '-p', 'copera', '--limit-rate', opts.rate, '--name', `r${i}.bin`], stateDir);
    await waitUntil(() => sb.stats().bytesReceived - from >= opts.at * size);
    const t0 = performance.now();
    await interrupt(child, done);
    await done;
    exits.push((performance.now() - t0) / 1000);
    const sent = sb.stats().bytesReceived - from;
    const kept = await keptBytes(stateDir);
    ratios.push(kept / sent);
    process.stderr.write(`${name} #${i + 1}: sent ${(sent / MiB).toFixed(0)} MiB, kept ${(kept / MiB).toFixed(0)} MiB, exited ${exits.at(-1).toFixed(2)} s after the signal\n`);
  }
  rows.push({ name, kept: median(ratios), min: Math.min(...ratios), exit: median(exits) });
}

console.log(`\n| ${opts.size} at --limit-rate ${opts.rate}, default flags, interrupted at ${opts.at * 100}% | kept of what was sent (median, worst of ${opts.runs}) | exit after the first signal (median) |`);
console.log('| --- | ---: | ---: |');
for (const r of rows) console.log(`| ${r.name} | ${(r.kept * 100).toFixed(0)}% (${(r.min * 100).toFixed(0)}%) | ${r.name === 'kill -9' ? '—' : `${r.exit.toFixed(2)} s`} |`);
const ctrlC = rows[0];
const kill = rows.find((r) => r.name === 'kill -9');
console.log(`\nTargets:\n- ${ctrlC.min >= 0.9 ? 'met' : 'MISSED'}: Ctrl-C keeps ≥ 90% of what was sent (worst ${(ctrlC.min * 100).toFixed(0)}%)`);
console.log(`- ${ctrlC.exit <= 12 ? 'met' : 'MISSED'}: Ctrl-C exits within 12 s (median ${ctrlC.exit.toFixed(2)} s)`);
console.log(`- ${kill.min >= 0.5 ? 'met' : 'MISSED'}: kill -9 keeps ≥ 50% of what was sent (worst ${(kill.min * 100).toFixed(0)}%)`);
await sb.close();
rmSync(work, { recursive: true, force: true });
