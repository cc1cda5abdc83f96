// The GitHub Action's entry (action.yml `runs.main`): masks the token, runs `lakeup put` from this
// action's own folder (bin/lakeup.js, which the release workflow builds into the tag) on the
// runner's Node, then sets the outputs from the run's manifest. The CLI writes the job summary and
// the annotations itself (it sees GITHUB_ACTIONS=true), and never loads this module.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { InputError, outputsOf, putArgs } from './inputs.js';

/** The CLI beside this entry: <action>/dist/action/main.js → <action>/bin/lakeup.js. */
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'lakeup.js');

async function run(): Promise<void> {
  const read = (name: string) => core.getInput(name);
  const token = read('token');
  // Masked before anything is printed: the runner replaces it with *** in every later log line.
  if (token) core.setSecret(token);
  const manifest = path.resolve(read('manifest') || path.join(process.env.RUNNER_TEMP || os.tmpdir(), `lakeup-${process.env.GITHUB_RUN_ID ?? 'run'}-${process.pid}.ndjson`));
  const limit = Number(read('items-limit') || '100');
  if (!Number.isInteger(limit) || limit < 0) throw new InputError(`input items-limit: a whole number, got '${read('items-limit')}'`);
  const args = putArgs(read, manifest);

  // The token goes by environment (a command line is visible to every process of the machine), and
  // the action's INPUT_* variables stay behind.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('INPUT_')) env[k] = v;
  if (token) env.LAKEUP_TOKEN = token;
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });

  core.setOutput('manifest', manifest);
  if (fs.existsSync(manifest)) {
    const out = outputsOf(fs.readFileSync(manifest, 'utf8'), limit);
    core.setOutput('uploaded', out.uploaded);
    core.setOutput('skipped', out.skipped);
    core.setOutput('failed', out.failed);
    core.setOutput('items', out.items ? JSON.stringify(out.items) : '');
  }
  if (code !== 0) core.setFailed(`lakeup put exited with ${code} (the job summary and the annotations say why)`);
}

run().catch((e: unknown) => {
  // A bad input is its one line; anything else too, without a stack trace (and the token is masked).
  core.setFailed(e instanceof Error ? e.message : String(e));
});
