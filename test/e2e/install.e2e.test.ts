// Installing like a user (issue 21): the tarball `npm pack` makes carries the built bundle, installs
// with `npm i -g` with no build step, no dependency to fetch and no install-script warning, and runs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/files.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
let work: string;
// npm's own output at its default level (CI runs with npm_config_loglevel=error, which hides warnings).
const npmEnv = () => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, npm_config_loglevel: 'warn', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
};
const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8', shell: process.platform === 'win32' });

beforeAll(async () => {
  work = await tempDir();
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

it.skipIf(process.platform === 'win32')('npm pack makes a tarball that npm i -g installs and runs with no build step and no warning', () => {
  // --ignore-scripts: pack the dist/ that `npm test` built (its prepack would rebuild it under the other test files).
  const pack = npm(['pack', '--ignore-scripts', '--pack-destination', work], ROOT);
  expect(pack.status, pack.stderr).toBe(0);
  const tarball = path.join(work, `${pkg.name}-${pkg.version}.tgz`);
  expect(fs.existsSync(tarball)).toBe(true);

  const prefix = path.join(work, 'prefix');
  const install = npm(['install', '--global', '--prefix', prefix, '--offline', tarball], work);
  expect(install.status, install.stderr).toBe(0);
  expect(install.stderr).not.toMatch(/warn/i);
  const installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
  // Everything is in the bundle: no dependency was installed beside it.
  expect(fs.existsSync(path.join(installed, 'node_modules'))).toBe(false);
  expect(fs.existsSync(path.join(installed, 'src'))).toBe(false);

  const bin = path.join(prefix, 'bin', 'lakeup');
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  expect(version.status, version.stderr).toBe(0);
  expect(version.stdout.trim()).toBe(pkg.version);
  // The MIME database is bundled too (mime-types is loaded on first use).
  const pdf = path.join(work, 'report.pdf');
  fs.writeFileSync(pdf, '%PDF-1.4\n');
  const dry = spawnSync(bin, ['put', pdf, '-p', 'copera', '--dry-run', '--json'], { encoding: 'utf8', cwd: work, env: { ...process.env, LAKEUP_STATE_DIR: path.join(work, 'state') } });
  expect(dry.status, dry.stderr).toBe(0);
  expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, mimeType: 'application/pdf' });
});
