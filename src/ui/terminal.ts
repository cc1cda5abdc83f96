// Decides once whether stdout/stderr are terminals and whether colour is on; everything else asks.
// NO_COLOR (any non-empty value) turns colour off, FORCE_COLOR (0-3) forces it, else colour
// follows whether stderr is a terminal. Inside GitHub Actions (GITHUB_ACTIONS=true) colour is off
// whatever else says: a job's log is kept as text, where an escape code is noise.
import fs from 'node:fs';
import { Chalk, type ChalkInstance } from 'chalk';
import { processWriters, type Writers } from './streams.js';

export interface Terminal extends Writers {
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /**
   * stdout and stderr lead to the same place (`2>&1`, one terminal): a line said on stdout need
   * not be said again on stderr.
   */
  sameOutput: boolean;
  columns: number;
  colorLevel: 0 | 1 | 2 | 3;
  chalk: ChalkInstance;
  /** The stream a live bar redraws (stderr): only the bar writes to it other than through err(). */
  barStream: NodeJS.WritableStream;
  /** Running as a step of a GitHub Actions job: no colour, no bar, annotations and a job summary. */
  githubActions: boolean;
}

/** Whether this runs as a step of a GitHub Actions job (the runner sets GITHUB_ACTIONS=true). */
export function inGithubActions(env: NodeJS.ProcessEnv): boolean {
  return env.GITHUB_ACTIONS === 'true';
}

export function colorLevelFrom(env: NodeJS.ProcessEnv, isTTY: boolean): 0 | 1 | 2 | 3 {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (inGithubActions(env)) return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true') return 1;
    if (force === 'false') return 0;
    const n = Number(force);
    if (Number.isInteger(n) && n >= 0 && n <= 3) return n as 0 | 1 | 2 | 3;
    return 1;
  }
  if (!isTTY || env.TERM === 'dumb') return 0;
  if (env.COLORTERM === 'truecolor' || env.COLORTERM === '24bit') return 3;
  return /-256(color)?$/i.test(env.TERM ?? '') ? 2 : 1;
}

export function detectTerminal(
  env: NodeJS.ProcessEnv = process.env,
  stdout: NodeJS.WriteStream = process.stdout,
  stderr: NodeJS.WriteStream = process.stderr,
): Terminal {
  const stderrIsTTY = Boolean(stderr.isTTY);
  const colorLevel = colorLevelFrom(env, stderrIsTTY);
  return {
    stdoutIsTTY: Boolean(stdout.isTTY),
    stderrIsTTY,
    sameOutput: sameFile(stdout, stderr),
    columns: stderr.columns || 80,
    colorLevel,
    chalk: new Chalk({ level: colorLevel }),
    // Every line leaves through the writers, and is redacted there.
    ...processWriters(stdout, stderr, colorLevel > 0),
    barStream: stderr,
    githubActions: inGithubActions(env),
  };
}

/** Whether two streams write to one file, pipe or terminal (by device and inode of their descriptors). */
export function sameFile(a: NodeJS.WriteStream, b: NodeJS.WriteStream): boolean {
  const fa = (a as { fd?: number }).fd;
  const fb = (b as { fd?: number }).fd;
  if (typeof fa !== 'number' || typeof fb !== 'number') return false;
  try {
    const x = fs.fstatSync(fa);
    const y = fs.fstatSync(fb);
    // Windows reports no inode for pipes and consoles: then they cannot be told apart, and are
    // taken to be different (both lines are said, as before).
    return x.ino !== 0 && x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
