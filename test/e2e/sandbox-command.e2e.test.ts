// `lakeup sandbox`, the first thing a user runs: without --dir its files go to a temp folder of its own, which it
// removes when it is stopped (it once left every file behind: 2.6 GB in the temp folder after an afternoon of trying
// it). A --dir is the user's and is kept.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { makeFile, tempDir } from '../helpers/files.js';
import { waitFor } from '../helpers/wait.js';

let work: string;
let file: string;

beforeAll(async () => {
  work = await tempDir();
  file = await makeFile(path.join(work, 'sample.bin'), 300_000, 7);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Starts `lakeup sandbox --port 0 …` with its temp folder in `tmp`, uploads `file` to both providers through it. */
async function sandboxWithFiles(extra: string[], tmp: string) {
  const child = startCli(['sandbox', '--port', '0', ...extra], { env: { TMPDIR: tmp, TMP: tmp, TEMP: tmp } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const info = JSON.parse(await waitFor('the JSON line on stdout', () => out.includes('\n') && out.split('\n')[0])) as { origin: string; token: string; dir: string };
  const env = { LAKEUP_TOKEN: info.token, LAKEUP_ENDPOINT: info.origin, LAKEUP_STATE_DIR: fs.mkdtempSync(path.join(work, 'state-')) };
  for (const provider of ['memorylake', 'copera']) {
    const r = await runCli(['put', file, '-p', provider, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
  }
  // Each provider's drive in its own folder, the file under its own name in both.
  expect(fs.existsSync(path.join(info.dir, 'memorylake', 'sample.bin'))).toBe(true);
  expect(fs.existsSync(path.join(info.dir, 'copera', 'sample.bin'))).toBe(true);
  return { child, dir: info.dir };
}

describe('lakeup sandbox and its files when it stops', () => {
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? [] : ['SIGTERM', 'SIGINT', 'SIGHUP'];
  it.each(signals)('without --dir, %s: it removes its temp folder, files and all, and exits 0', async (signal) => {
    const tmp = fs.mkdtempSync(path.join(work, 'tmp-'));
    const { child, dir } = await sandboxWithFiles([], tmp);
    expect(path.dirname(dir)).toBe(fs.realpathSync(tmp));
    child.kill(signal);
    const r = await child.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`lakeup sandbox: stopping, removing ${dir}`);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('with --dir, SIGTERM: the folder and its files stay', async () => {
    const tmp = fs.mkdtempSync(path.join(work, 'tmp-'));
    const mine = path.join(work, 'mine');
    const { child, dir } = await sandboxWithFiles(['--dir', mine], tmp);
    expect(dir).toBe(path.resolve(mine));
    child.kill('SIGTERM');
    const r = await child.result;
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(mine).sort()).toEqual(['copera', 'memorylake']);
    expect(fs.statSync(path.join(mine, 'copera', 'sample.bin')).size).toBe(300_000);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

describe('lakeup sandbox --also-token / --other-account-token', () => {
  it('a second token of the same account uploads into the same drive; another account into a drive of its own', async () => {
    const tmp = fs.mkdtempSync(path.join(work, 'tmp-'));
    const mine = path.join(work, 'accounts');
    const child = startCli(['sandbox', '--port', '0', '--dir', mine, '--also-token', 'rotated', '--other-account-token', 'other'], { env: { TMPDIR: tmp } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const info = JSON.parse(await waitFor('the JSON line on stdout', () => out.includes('\n') && out.split('\n')[0])) as { origin: string };
    const state = fs.mkdtempSync(path.join(work, 'state-'));
    for (const token of ['rotated', 'other']) {
      const r = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: { LAKEUP_TOKEN: token, LAKEUP_ENDPOINT: info.origin, LAKEUP_STATE_DIR: state } });
      expect(r.code, r.stderr).toBe(0);
    }
    const refused = await runCli(['put', file, '-p', 'memorylake'], { env: { LAKEUP_TOKEN: 'nobody', LAKEUP_ENDPOINT: info.origin, LAKEUP_STATE_DIR: state } });
    expect(refused.code).toBe(3);
    child.kill('SIGTERM');
    expect((await child.result).code).toBe(0);
    expect(fs.readdirSync(path.join(mine, 'memorylake'))).toEqual(['sample.bin']);
    expect(fs.readdirSync(path.join(mine, 'account-1', 'memorylake'))).toEqual(['sample.bin']);
  });
});
