// What each command loads from the bundle (issue 21: shell scripts start lakeup once per file). Short
// commands load no HTTP client; a put loads no sandbox, no progress bar off a terminal and no MD5
// threads for parts hashed inline; `lakeup sandbox` loads its server. Each run records the chunks it
// resolved (test/helpers/record-loads.mjs); each case that must not load a module has a case that must.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { hasModule, loadedInternals, loadedModules, recordLoadsEnv } from '../helpers/loads.js';
import { hasScript, runInPty } from '../helpers/pty.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed();
let runs = 0;
const logFile = () => path.join(bed.work, `loads-${++runs}.txt`);

async function loadsOf(args: string[]): Promise<Set<string>> {
  const log = logFile();
  const r = await runCli(args, { env: { ...bed.env, ...recordLoadsEnv(log) } });
  expect(r.code, r.stderr).toBe(0);
  return loadedModules(log);
}

describe('short commands', () => {
  it('lakeup --version loads neither commander nor an HTTP client', async () => {
    const modules = await loadsOf(['--version']);
    expect(hasModule(modules, 'src/cli/main.ts')).toBe(true);
    expect(hasModule(modules, 'node_modules/commander/')).toBe(false);
    expect(hasModule(modules, 'node_modules/undici/')).toBe(false);
  });

  for (const args of [['-V', 'put'], ['--help'], ['put', '--help'], ['list'], ['list', '--json'], ['abort', '--all'], ['completion', 'bash']]) {
    it(`lakeup ${args.join(' ')} loads no HTTP client`, async () => {
      const modules = await loadsOf(args);
      expect(hasModule(modules, 'node_modules/commander/')).toBe(true);
      expect(hasModule(modules, 'node_modules/undici/')).toBe(false);
      expect(hasModule(modules, 'src/http/')).toBe(false);
    });
  }
});

describe('put', () => {
  it('a small file off a terminal loads the HTTP client, but no sandbox, no progress bar and no MD5 threads', async () => {
    const file = await makeFile(path.join(bed.work, 'small.bin'), 100);
    const modules = await loadsOf(['put', file, '-p', 'memorylake']);
    expect(hasModule(modules, 'node_modules/undici/')).toBe(true);
    expect(hasModule(modules, 'src/sandbox/')).toBe(false);
    expect(hasModule(modules, 'node_modules/cli-progress/')).toBe(false);
    expect(hasModule(modules, 'src/transfer/md5-pool.ts')).toBe(false);
    // MemoryLake takes no MIME type: mime-db's ~150 KB are not even read.
    expect(hasModule(modules, 'node_modules/mime-db/')).toBe(false);
  });

  it('a Copera put loads the MIME database and sends the type of the extension, unless --mime-type names the type', async () => {
    const file = await makeFile(path.join(bed.work, 'small.pdf'), 100);
    const mimeTypeOf = async (stdout: string) => {
      const { id } = JSON.parse(stdout.trim().split('\n').pop()!) as { id: string };
      const res = await fetch(`${bed.sb.origin}/public/v1/drive/files/${id}`, { headers: { authorization: `Bearer ${bed.sb.token}` } });
      return ((await res.json()) as { mimeType: string }).mimeType;
    };
    for (const [flags, loads, type] of [
      [[], true, 'application/pdf'],
      [['--mime-type', 'text/x-mine'], false, 'text/x-mine'],
    ] as const) {
      const log = logFile();
      const r = await runCli(['put', file, '-p', 'copera', '--again', '--json', ...flags], { env: { ...bed.env, ...recordLoadsEnv(log) } });
      expect(r.code, r.stderr).toBe(0);
      expect(hasModule(loadedModules(log), 'node_modules/mime-db/')).toBe(loads);
      expect(await mimeTypeOf(r.stdout)).toBe(type);
    }
  });

  it("a put does not load Node's internal copy of undici (its globalThis.Headers), which undici's entry would touch", async () => {
    const NODE_UNDICI = 'internal/deps/undici/undici';
    // The check sees it when it is loaded: a process that reads globalThis.Headers.
    const seen = logFile();
    const probe = spawnSync(process.execPath, ['-e', 'globalThis.Headers'], { env: { ...process.env, ...recordLoadsEnv(seen) }, encoding: 'utf8' });
    expect(probe.status, probe.stderr).toBe(0);
    expect(loadedInternals(seen).has(NODE_UNDICI)).toBe(true);
    const log = logFile();
    const file = await makeFile(path.join(bed.work, 'small-2.bin'), 100);
    const r = await runCli(['put', file, '-p', 'memorylake'], { env: { ...bed.env, ...recordLoadsEnv(log) } });
    expect(r.code, r.stderr).toBe(0);
    expect(hasModule(loadedModules(log), 'node_modules/undici/')).toBe(true);
    expect(loadedInternals(log).has(NODE_UNDICI)).toBe(false);
  });

  it('a part too big to hash inline loads the MD5 threads', async () => {
    const file = await makeFile(path.join(bed.work, 'three-mib.bin'), 3 * MiB);
    const modules = await loadsOf(['put', file, '-p', 'memorylake']);
    expect(hasModule(modules, 'src/transfer/md5-pool.ts')).toBe(true);
  });

  it.skipIf(!hasScript)('on a terminal it loads the progress bar', async () => {
    const file = await makeFile(path.join(bed.work, 'tty.bin'), 100);
    const log = logFile();
    const r = await runInPty(['put', file, '-p', 'memorylake'], { env: { ...bed.env, ...recordLoadsEnv(log) } }).result;
    expect(r.code, r.raw).toBe(0);
    expect(hasModule(loadedModules(log), 'node_modules/cli-progress/')).toBe(true);
  });
});

it('lakeup sandbox loads its server', async () => {
  const log = logFile();
  const tmp = fs.mkdtempSync(path.join(bed.work, 'tmp-'));
  const child = startCli(['sandbox', '--port', '0'], { env: { ...recordLoadsEnv(log), TMPDIR: tmp, TMP: tmp, TEMP: tmp } });
  await waitFor('the JSON line on stdout', () => child.output().stdout.includes('\n'));
  child.kill('SIGTERM');
  expect((await child.result).code).toBe(0);
  expect(hasModule(loadedModules(log), 'src/sandbox/server.ts')).toBe(true);
});

describe.skipIf(process.platform !== 'linux')('compile cache', () => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  const hasCompileCache = major > 22 || (major === 22 && minor >= 8);

  it(hasCompileCache ? 'Node ≥ 22.8 keeps the compiled bundle in the cache folder beside the state folder' : 'Node < 22.8 writes no compile cache', async () => {
    const cache = fs.mkdtempSync(path.join(bed.work, 'xdg-cache-'));
    const r = await runCli(['--help'], { env: { ...bed.env, XDG_CACHE_HOME: cache } });
    expect(r.code, r.stderr).toBe(0);
    const folder = path.join(cache, 'lakeup', 'compile-cache');
    if (hasCompileCache) expect(fs.readdirSync(folder, { recursive: true }).length).toBeGreaterThan(0);
    else expect(fs.existsSync(path.join(cache, 'lakeup'))).toBe(false);
  });
});
