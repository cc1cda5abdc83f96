// `npm run demo`, the first thing a user runs: the same sample to both providers, each stored under its own name
// (the sandbox once kept both providers in one namespace, and the Copera copy became `sample (1).bin`).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseEnv, ROOT } from '../helpers/cli.js';

describe('npm run demo', () => {
  it("uploads the sample to both providers, each stored as 'sample.bin', bytes identical", { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.mjs')], { cwd: ROOT, env: baseEnv({ DEMO_SIZE_MIB: '2' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.resume();
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code, err).toBe(0);
    for (const provider of ['memorylake', 'copera']) expect(err).toMatch(new RegExp(`demo: ${provider}: .* stored as 'sample\\.bin' .* bytes identical`));
    expect(err).not.toContain('sample (1).bin');
    expect(err).toContain('demo: both uploads verified byte for byte; temp files removed');
  });
});
