// The state of finished parts survives an exit that does not wait (a second Ctrl-C calls
// process.exit): what was recorded but not yet written is written synchronously on the way out.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/files.js';

describe('StateWriter at exit', () => {
  it('writes the parts recorded just before process.exit', async () => {
    const dir = await tempDir();
    // The built StateWriter (dist/dev.js): a plain Node process runs no TypeScript.
    const writer = pathToFileURL(path.join(ROOT, 'dist', 'dev.js')).href;
    const state = {
      version: 1,
      id: '0123456789abcdef',
      provider: 'copera',
      endpoint: 'http://127.0.0.1:1',
      dest: { name: 'f.bin' },
      file: { path: '/f.bin', size: 30, mtimeMs: 1 },
      session: { uploadId: 'u', fileKey: 'k', parts: [], urls: [], urlsIssuedAt: 1, createdAt: 1 },
      done: [] as unknown[],
      createdAt: 1,
      updatedAt: 1,
    };
    // Three parts recorded one after another, then an exit that waits for nothing: the first
    // asynchronous write is still under way, the others were never started.
    const script = `
      import { StateWriter } from ${JSON.stringify(writer)};
      const state = ${JSON.stringify(state)};
      const w = new StateWriter(${JSON.stringify(dir)}, state);
      for (const n of [1, 2, 3]) { state.done.push({ number: n, etag: 'e' + n, size: 10 }); w.schedule(); }
      process.exit(130);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(130);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, '0123456789abcdef.json'), 'utf8'));
    expect(saved.done.map((d: { number: number }) => d.number)).toEqual([1, 2, 3]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
