// `lakeup put` end to end: the built CLI as a child process against the sandbox, over real
// sockets, byte-exact.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastJson, runCli } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { storedPath as storedIn } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const MiB = 1024 * 1024;
// MemoryLake's layout is the server's: small parts keep these tests quick and many-parted.
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });

const storedPath = (provider: string, name: string): string => storedIn(bed.sb, provider, name);

async function putAndCheck(provider: 'memorylake' | 'copera', size: number, extra: string[] = []) {
  const file = await makeFile(path.join(bed.work, `f-${provider}-${size}.bin`), size, size % 97);
  const r = await runCli(['put', file, '--provider', provider, '--json', ...extra], { env: bed.env });
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  const out = lastJson(r.stdout);
  expect(out).toMatchObject({ ok: true, provider, size, resumed: false });
  expect(await sha256File(storedPath(provider, out.name as string))).toBe(await sha256File(file));
  return out;
}

describe('put to MemoryLake (server-decided layout)', () => {
  it.each([
    ['one byte', 1, 1],
    ['exactly one part', 1 * MiB, 1],
    ['one byte over a part boundary', 1 * MiB + 1, 2],
    ['several parts with a short tail', 5 * MiB + 12345, 6],
  ])('uploads a file of %s byte-exact', async (_label, size, parts) => {
    const out = await putAndCheck('memorylake', size as number);
    expect(out.parts).toBe(parts);
    expect(out.id).toMatch(/\S/);
  });

  it('reports the name the server chose on a conflict (rename)', async () => {
    const file = await makeFile(path.join(bed.work, 'dup.bin'), 1000);
    const a = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: bed.env });
    const b = await runCli(['put', file, '-p', 'memorylake', '--again', '--json'], { env: bed.env });
    expect(lastJson(a.stdout).name).toBe('dup.bin');
    expect(lastJson(b.stdout).name).toBe('dup_1.bin');
  });

  it('honours --name, --on-conflict deny (exit 1, one line) and --quiet', async () => {
    const file = await makeFile(path.join(bed.work, 'deny.bin'), 2000);
    const a = await runCli(['put', file, '-p', 'memorylake', '--name', 'renamed.bin', '--quiet'], { env: bed.env });
    expect(a.code).toBe(0);
    expect(a.stderr).toBe('');
    expect(a.stdout).toMatch(/renamed\.bin/);
    const b = await runCli(['put', file, '-p', 'memorylake', '--name', 'renamed.bin', '--on-conflict', 'deny', '--again'], { env: bed.env });
    expect(b.code).toBe(1);
    expect(b.stderr.trim().split('\n').filter((l) => l.startsWith('lakeup: error'))).toHaveLength(1);
    expect(b.stderr).toMatch(/409/);
  });
});

describe('put to Copera (client-chosen layout)', () => {
  it.each([
    ['one byte', 1, 1],
    ['exactly one 5 MiB part', 5 * MiB, 1],
    ['one byte over a part boundary', 5 * MiB + 1, 2],
  ])('uploads a file of %s byte-exact', async (_label, size, parts) => {
    const out = await putAndCheck('copera', size as number, ['--part-size', '5MiB']);
    expect(out.parts).toBe(parts);
    expect(out.id).toMatch(/^[0-9a-f]{24}$/);
  });

  it('uses 10 MiB parts by default', async () => {
    const out = await putAndCheck('copera', 21 * MiB);
    expect(out.parts).toBe(3);
  });
});

describe('a large file', () => {
  it('uploads several hundred MiB to both providers byte-exact', async () => {
    const size = 300 * MiB + 777;
    const file = await makeFile(path.join(bed.work, 'large.bin'), size, 42);
    const want = await sha256File(file);
    for (const provider of ['memorylake', 'copera'] as const) {
      const r = await runCli(['put', file, '--provider', provider, '--json', '--concurrency', '8'], { env: bed.env, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const out = lastJson(r.stdout);
      expect(await sha256File(storedPath(provider, out.name as string))).toBe(want);
    }
    fs.rmSync(file);
  }, 180_000);
});

describe('answers that must not become a success', () => {
  it('Copera finalize reporting a different size is an integrity error, exit 1', async () => {
    const file = await makeFile(path.join(bed.work, 'short.bin'), 3000);
    bed.sb.script({
      route: 'copera.finalize',
      status: 200,
      body: { _id: '0123456789abcdef01234567', name: 'short.bin', type: 'file', mimeType: 'application/octet-stream', size: 2999 },
    });
    const r = await runCli(['put', file, '-p', 'copera', '--json'], { env: bed.env });
    expect(r.code).toBe(1);
    expect(lastJson(r.stdout)).toMatchObject({ ok: false, error: { kind: 'integrity' } });
    expect(r.stderr).toMatch(/Copera stored 2999 bytes but the file has 3000/);
  });
});
