// Runs the built CLI (bin/lakeup.js → the bundle in dist/) as a child process, the way users run it.
import { spawn, type ChildProcess } from 'node:child_process';
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
  /** A command the CLI runs under (nsenter into a mount namespace): it is given node, the CLI and its arguments. */
  wrap?: string[];
}

/** A clean environment: no proxy, no colour forcing, no LAKEUP_* from the developer's shell, no GITHUB_* of the CI job running the tests. */
export function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(LAKEUP_|GITHUB_|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|FORCE_COLOR|NO_COLOR)/.test(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function startCli(args: string[], o: CliOptions = {}): ChildProcess & { result: Promise<CliResult>; output: () => { stdout: string; stderr: string } } {
  const [cmd, ...argv] = [...(o.wrap ?? []), process.execPath, BIN, ...args];
  const child = spawn(cmd, argv, {
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
