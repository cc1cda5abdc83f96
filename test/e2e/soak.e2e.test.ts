// The kill-anywhere soak, short: ~20 rounds of a small tree uploaded with faults on, SIGKILLed 0–2
// times at a seeded random moment (sending, a state write, a URL refresh, finalize…) and run again
// to the end. Every file must be in the drive exactly once, byte-exact, no folder made twice, the
// state folder empty, and the last run of every round must have finished by itself.
// `npm run soak` is the long version (200 rounds, summary table); see README "Kill-anywhere soak".
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { formatSummary, runSoak } from '../helpers/soak.mjs';

const ROUNDS = Number(process.env.LAKEUP_SOAK_ROUNDS ?? 20);
// A fresh seed each time (printed on failure); LAKEUP_SOAK_SEED replays one.
const SEED = process.env.LAKEUP_SOAK_SEED ? Number(process.env.LAKEUP_SOAK_SEED) : randomInt(2 ** 31);

describe('kill-anywhere soak (short)', () => {
  it(`${ROUNDS} rounds: every file once, byte-exact, nothing left behind, no run needs a person`, { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const summary = await runSoak({ rounds: ROUNDS, seed: SEED, startSandbox, log: (l) => lines.push(l) });
    const report = `${formatSummary(summary)}\n\n${lines.join('\n')}`;
    const during = Object.entries(summary.killedDuring).filter(([, n]) => n > 0);
    console.log(
      `soak: ${summary.rounds} rounds, seed ${summary.seed} (LAKEUP_SOAK_SEED replays), ${summary.kills} SIGKILLs during ${during.map(([m, n]) => `${m} ${n}`).join(', ')}; ` +
        `lost ${summary.lost}, duplicated ${summary.duplicated}, ${(summary.elapsedMs / 1000).toFixed(1)} s`,
    );
    expect(summary.failures, report).toEqual([]);
    expect(summary.rounds).toBe(ROUNDS);
    expect({ lost: summary.lost, duplicated: summary.duplicated, corrupt: summary.corrupt, foldersTwice: summary.foldersTwice, leftovers: summary.leftovers }, report).toEqual({
      lost: 0,
      duplicated: 0,
      corrupt: 0,
      foldersTwice: 0,
      leftovers: 0,
    });
    // It did kill, and not only while sending.
    expect(summary.kills, report).toBeGreaterThanOrEqual(ROUNDS / 2);
    expect(summary.killedDuring.finalize, report).toBeGreaterThan(0);
  });
});
