// `lakeup resume <run>` goes on as the command that started the run said: where and how files land,
// and the bandwidth it was held to (a run started with --limit-rate 2MiB/s resumed at full speed).
import { describe, expect, it } from 'vitest';
import { replayedFlags, replayedStateFlags } from '../../src/cli/state-commands.js';
import type { StateFile } from '../../src/state/state-file.js';
import { buildPutPlan, type PutFlags } from '../../src/cli/put-plan.js';
import { runIdentity } from '../../src/upload/run-journal.js';
import type { RunSummary } from '../../src/state/run-list.js';
import { MiB } from '../../src/util/sizes.js';

const env = { LAKEUP_TOKEN: 'sk_test_replay', LAKEUP_STATE_DIR: '/tmp/lakeup-replay-state' };
const PIPE = { stderrIsTTY: false };
const started: PutFlags = { provider: 'memorylake', recursive: true, limitRate: '2MiB/s', skipExisting: true, filters: [{ kind: 'exclude', glob: '*.tmp' }] };

/** What `lakeup list` reads back from the journal of a run started with `flags`. */
function summaryOf(flags: PutFlags): RunSummary {
  const id = runIdentity(buildPutPlan(['tree'], flags, env, PIPE));
  return { key: 'k', file: 'k.run.ndjson', ...id, finished: 0, finalizing: 0, folders: 0, updatedAt: 0 };
}

describe('resuming a run replays its command', () => {
  it('with the bandwidth it was held to, and what it said about the files', () => {
    const again = buildPutPlan(['tree'], replayedFlags(summaryOf(started), {}), env, PIPE);
    expect(again.limitRate).toBe(2 * MiB);
    expect(again.recursive).toBe(true);
    expect(again.skipExisting).toBe(true);
    expect(again.filters).toEqual([{ kind: 'exclude', glob: '*.tmp' }]);
  });

  it("the resume's own --limit-rate wins; a run started without one resumes without one", () => {
    expect(buildPutPlan(['tree'], replayedFlags(summaryOf(started), { limitRate: '8MiB/s' }), env, PIPE).limitRate).toBe(8 * MiB);
    expect(buildPutPlan(['tree'], replayedFlags(summaryOf({ provider: 'copera' }), {}), env, PIPE).limitRate).toBeUndefined();
  });
});

describe('resuming one file replays its command', () => {
  const state = (limitRate?: unknown) =>
    ({
      version: 1,
      id: 'abc',
      provider: 'copera',
      endpoint: 'https://api.copera.ai',
      dest: { name: 'big.bin', parent: 'abcdefabcdefabcdefabcdef' },
      file: { path: '/data/big.bin', size: 1, mtimeMs: 1 },
      partSize: 16 * MiB,
      session: { uploadId: 'u', parts: [] },
      done: [],
      limitRate,
      createdAt: 0,
      updatedAt: 0,
    }) as unknown as StateFile;

  it('with the bandwidth it was held to; the resume\'s own --limit-rate wins', () => {
    const again = buildPutPlan(['/data/big.bin'], replayedStateFlags(state(2 * MiB), {}), env, PIPE);
    expect(again.limitRate).toBe(2 * MiB);
    expect(again.partSize).toBe(16 * MiB);
    expect(again.parent).toBe('abcdefabcdefabcdefabcdef');
    expect(buildPutPlan(['/data/big.bin'], replayedStateFlags(state(2 * MiB), { limitRate: '8MiB/s' }), env, PIPE).limitRate).toBe(8 * MiB);
  });

  it('a state without one, or with a value that is no rate (edited by hand), resumes unlimited', () => {
    for (const bad of [undefined, 'fast', -1, 1.5]) {
      expect(buildPutPlan(['/data/big.bin'], replayedStateFlags(state(bad), {}), env, PIPE).limitRate).toBeUndefined();
    }
  });
});
