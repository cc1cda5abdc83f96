// One pacer for a run's API calls, against the sandbox's account-wide rate limit: files going at
// once share the budget, stay near it, and meet few 429s (Copera's rate headers: almost none).
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHandle } from '../../src/sandbox/server.js';
import { runCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { useSandboxPool } from '../helpers/sandbox-bed.js';

const pool = useSandboxPool({ apiRate: 100, faults: { latencyMs: 5 } });
let root: string;
const FILES = 150;

beforeAll(async () => {
  root = path.join(pool.work, 'many');
  fs.mkdirSync(root);
  for (let i = 0; i < FILES; i++) await makeFile(path.join(root, `f${i}.txt`), 1 + ((i * 331) % 4000), i + 1);
});

const calls = (sb: SandboxHandle) => Object.values(sb.stats().apiCalls).reduce((a, b) => a + b, 0);

describe('a run shares one API budget', () => {
  it.each(['memorylake', 'copera'] as const)('%s: 150 files at 16 jobs under a limit of 100 calls/s: all uploaded, under 5 percent of calls refused', async (provider) => {
    await pool.with(undefined, async (sb) => {
      const env = pool.envFor(sb);
      const r = await runCli(['put', root, '-r', '-p', provider, '-j', '16', '--json'], { env, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      // 16 files share the run's Ctrl-C signal, each listening on it: no Node warning reaches the user.
      expect(r.stderr).not.toMatch(/Warning|\(node:\d+\)/);
      expect(sb.stats().finalized.filter((f) => f.provider === provider)).toHaveLength(FILES);
      const limited = sb.stats().rateLimited;
      // The limit was met (16 jobs want far more than 40 calls/s)…
      expect(calls(sb)).toBeGreaterThan(FILES * 2);
      // …and the pacer kept refusals rare; Copera's headers let it avoid them almost entirely.
      expect(limited / calls(sb)).toBeLessThan(0.05);
      if (provider === 'copera') expect(limited).toBeLessThanOrEqual(3);
    });
  });
});
