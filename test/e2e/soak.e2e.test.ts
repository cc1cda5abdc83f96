// The kill-anywhere soak, short: ~20 rounds of a small tree uploaded with faults on, SIGKILLed 0–2
// times at a seeded random moment (sending, a state write, a URL refresh, finalize…) and run again
// to the end. Every file must be in the drive exactly once, byte-exact, no folder made twice, the
// state folder empty, and the last run of every round must have finished by itself.
// `npm run soak` is the long version (200 rounds, random seeds, summary table); see docs/soak.md.
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { formatSummary, runSoak } from '../helpers/soak.mjs';

// Fixed seeds: `npm test` must not fail a correct change on a draw of new trees, faults and kill plans (`npm run
// soak` draws random seeds). Both once failed in CI: 1277919922 round 9 (a kill after the run's last step left its
// run lock), 411260093 round 7 (a lock left empty by a kill between creating and filling it). LAKEUP_SOAK_SEED (and
// LAKEUP_SOAK_ROUNDS, default 20) replays any seed instead.
const ROUNDS = process.env.LAKEUP_SOAK_ROUNDS ? Number(process.env.LAKEUP_SOAK_ROUNDS) : undefined;
const SEEDS: [seed: number, rounds: number][] = process.env.LAKEUP_SOAK_SEED
  ? [[Number(process.env.LAKEUP_SOAK_SEED), ROUNDS ?? 20]]
  : [
      [1277919922, ROUNDS ?? 20],
      [411260093, ROUNDS ?? 10],
    ];

describe('kill-anywhere soak (short)', () => {
  it.each(SEEDS)('seed %i, %i rounds: every file once, byte-exact, nothing left behind, no run needs a person', { timeout: 180_000 }, async (seed, rounds) => {
    const lines: string[] = [];
    const summary = await runSoak({ rounds, seed, startSandbox, log: (l) => lines.push(l) });
    const report = `${formatSummary(summary)}\n\n${lines.join('\n')}`;
    const during = Object.entries(summary.killedDuring).filter(([, n]) => n > 0);
    console.log(
      `soak: ${summary.rounds} rounds, seed ${summary.seed} (LAKEUP_SOAK_SEED replays), ${summary.kills} SIGKILLs during ${during.map(([m, n]) => `${m} ${n}`).join(', ')}; ` +
        `lost ${summary.lost}, duplicated ${summary.duplicated}, ${(summary.elapsedMs / 1000).toFixed(1)} s`,
    );
    expect(summary.failures, report).toEqual([]);
    expect(summary.rounds).toBe(rounds);
    expect({ lost: summary.lost, duplicated: summary.duplicated, corrupt: summary.corrupt, foldersTwice: summary.foldersTwice, leftovers: summary.leftovers }, report).toEqual({
      lost: 0,
      duplicated: 0,
      corrupt: 0,
      foldersTwice: 0,
      leftovers: 0,
    });
    // It did kill, and not only while sending.
    expect(summary.kills, report).toBeGreaterThanOrEqual(rounds / 2);
    expect(summary.killedDuring.finalize, report).toBeGreaterThan(0);
  });
});
