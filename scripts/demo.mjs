#!/usr/bin/env node
// `npm run demo`: a real upload against the built-in sandbox, to both providers, with the live bar.
// Starts the sandbox, creates a sample file of a few hundred MiB in a temp folder, uploads it with
// the built CLI, checks the stored bytes are identical, and cleans up.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'lakeup.js');
const sizeMiB = Number(process.env.DEMO_SIZE_MIB ?? 300);

if (!existsSync(path.join(root, 'dist', 'lakeup.js'))) {
  console.error('demo: dist/ is missing; run `npm ci` (or `npm run build`) first');
  process.exit(2);
}
const { startSandbox } = await import(pathToFileURL(path.join(root, 'dist', 'dev.js')).href);

async function makeSample(file, mib) {
  const out = createWriteStream(file);
  for (let i = 0; i < mib; i++) {
    if (!out.write(randomBytes(1024 * 1024))) await new Promise((r) => out.once('drain', r));
  }
  // A tail that is not a whole MiB, so the last part is a short one.
  out.write(randomBytes(12345));
  await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
}

async function sha256(file) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

function run(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'lakeup-demo-'));
const store = path.join(work, 'sandbox-files');
const stateDir = path.join(work, 'state');
const sandbox = await startSandbox({ port: 0, dir: store });
let failed = false;
try {
  console.error(`demo: sandbox at ${sandbox.origin} (each provider's drive in ${path.join(store, '<provider>')})`);
  const sample = path.join(work, 'sample.bin');
  console.error(`demo: creating a ${sizeMiB} MiB sample file…`);
  await makeSample(sample, sizeMiB);
  const want = await sha256(sample);

  for (const provider of ['memorylake', 'copera']) {
    console.error(`\ndemo: lakeup put sample.bin --provider ${provider}`);
    const env = { ...process.env, LAKEUP_TOKEN: sandbox.token, LAKEUP_ENDPOINT: sandbox.origin, LAKEUP_STATE_DIR: stateDir };
    const { code, out } = await run(['put', sample, '--provider', provider, '--json'], env);
    if (code !== 0) {
      console.error(`demo: upload to ${provider} failed with exit code ${code}`);
      failed = true;
      continue;
    }
    const result = JSON.parse(out.trim().split('\n').pop());
    const stored = sandbox.stats().finalized.find((f) => f.provider === provider && f.name === result.name);
    const got = stored ? await sha256(stored.path) : 'missing';
    const ok = got === want;
    failed ||= !ok;
    console.error(
      `demo: ${provider}: ${result.parts} parts, ${(result.bytesPerSecond / 1048576).toFixed(0)} MiB/s, stored as '${result.name}' (${result.id}) — bytes ${ok ? 'identical ✔' : `DIFFER ✘ (${got})`}`,
    );
  }
} finally {
  await sandbox.close();
  await fs.rm(work, { recursive: true, force: true });
}
console.error(failed ? '\ndemo: FAILED' : '\ndemo: both uploads verified byte for byte; temp files removed');
process.exit(failed ? 1 : 0);
