// Runs the built CLI (bin/lakeup.js → the bundle in dist/) as a child process, the way users run it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'lakeup.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
}

/** A clean environment: no proxy, no colour forcing, no LAKEUP_* from the developer's shell. */
export function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(LAKEUP_|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|FORCE_COLOR|NO_COLOR)/.test(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function startCli(args: string[], o: CliOptions = {}): ChildProcess & { result: Promise<CliResult>; output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: o.cwd ?? ROOT,
    env: baseEnv(o.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  if (o.input !== undefined) child.stdin!.end(o.input);
  else child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  const result = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return Object.assign(child, { result, output: () => ({ stdout, stderr }) });
}

export function runCli(args: string[], o: CliOptions = {}): Promise<CliResult> {
  return startCli(args, o).result;
}

/** The last JSON line of stdout. */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split(/\r?\n/).filter(Boolean);
  return JSON.parse(lines[lines.length - 1]);
}

/** Every JSON line of stdout (one per file with --json). */
export function jsonLines(r: Pick<CliResult, 'stdout'>): Array<Record<string, unknown>> {
  return r.stdout
    .trim()
    .split(/\r?\n/)
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Runs the CLI and SIGKILLs it the moment a file whose name matches `match` appears in `dir` (its
 * state folder). Resolves with how it ended and the name seen ('' if none appeared before it ended).
 */
export async function killWhenAppears(args: string[], o: CliOptions, dir: string, match: RegExp): Promise<{ result: CliResult; seen: string }> {
  const child = startCli(args, o);
  let seen = '';
  const watcher = fs.watch(dir, (_ev, name) => {
    if (seen || !name || !match.test(name) || !fs.existsSync(path.join(dir, name))) return;
    seen = name;
    child.kill('SIGKILL');
  });
  try {
    return { result: await child.result, seen };
  } finally {
    watcher.close();
  }
}

/** Whether util-linux `script` can give the CLI a real pseudo-terminal here. */
export const HAS_PTY = process.platform !== 'win32' && spawnSync('script', ['--version']).status === 0;

/**
 * Runs the CLI under a real pseudo-terminal (util-linux `script`): stdout and stderr are the
 * terminal, as a user's are. `output` is everything the terminal received, in order.
 */
export function runInTerminal(args: string[], o: CliOptions = {}): Promise<{ code: number | null; output: string }> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // Async: a sandbox in the test's process must keep answering while the CLI runs.
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    cwd: o.cwd ?? ROOT,
    env: baseEnv({ TERM: 'xterm-256color', COLUMNS: '120', ...o.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
