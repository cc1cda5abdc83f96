#!/usr/bin/env node
// `npm run soak`: the kill-anywhere soak. N rounds (default 200) of: a fresh small tree, uploaded by
// `lakeup put -r` against a sandbox with faults on, SIGKILLed 0–2 times at a moment drawn from a
// seeded PRNG (sending, a state write, a URL refresh, finalize…), then run once more to the end.
// Afterwards every file must be in the drive exactly once, byte-exact, and the state folder empty.
//
//   node scripts/soak.mjs [--rounds 200] [--seed N] [--round K[,K…]] [--keep] [--quiet]
//
// --seed replays the same trees, faults and kill plans (timing-dependent outcomes may still
// differ); --round replays only those rounds of that seed (LAKEUP_SOAK_DEBUG=1 also prints every
// call the API tap sees). Exit 1 if any round failed.
// The CLI runs from dist/ (npm run soak builds it first); the sandbox runs in this process.
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatSummary, runSoak } from '../test/helpers/soak.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opts = { rounds: 200, seed: randomInt(2 ** 31), only: undefined, keep: false, quiet: false };
{
  const a = process.argv.slice(2);
  const num = (k, v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) {
      process.stderr.write(`soak: ${k} expects a whole number, got '${v}'\n`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    const v = () => a[++i];
    if (k === '--rounds') opts.rounds = num(k, v());
    else if (k === '--seed') opts.seed = num(k, v());
    else if (k === '--round') opts.only = v().split(',').map((x) => num(k, x));
    else if (k === '--keep') opts.keep = true;
    else if (k === '--quiet') opts.quiet = true;
    else if (k === '--help' || k === '-h') {
      process.stdout.write('node scripts/soak.mjs [--rounds 200] [--seed N] [--round K[,K…]] [--keep] [--quiet]\n');
      process.exit(0);
    } else {
      process.stderr.write(`soak: unknown flag ${k}\n`);
      process.exit(2);
    }
  }
}

const server = path.join(root, 'dist', 'dev.js');
if (!existsSync(server)) {
  process.stderr.write('soak: dist/ is missing: run `npm run build` first (npm run soak does)\n');
  process.exit(2);
}
const { startSandbox } = await import(pathToFileURL(server).href);

process.stderr.write(`soak: ${opts.only ? `round(s) ${opts.only.join(',')}` : `${opts.rounds} rounds`}, seed ${opts.seed}\n`);
const summary = await runSoak({
  rounds: opts.rounds,
  seed: opts.seed,
  only: opts.only,
  keep: opts.keep,
  startSandbox,
  log: opts.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${formatSummary(summary)}\n`);
process.exit(summary.failures.length ? 1 : 0);
