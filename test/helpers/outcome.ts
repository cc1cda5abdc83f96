// What a finished CLI run must look like from the outside, shared by the fault and bad-input
// suites: one error line, no stack trace, and the state files left behind.
import fs from 'node:fs';
import path from 'node:path';

/** A Node stack frame ("    at fn (file.js:1:2)") anywhere after the first line. */
export const STACK_TRACE = /\n\s+at /;

export function errorLines(stderr: string): string[] {
  return stderr.split(/\r?\n/).filter((l) => l.startsWith('lakeup: error:'));
}

/** Every JSON object line of stdout (other lines ignored). */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split(/\r?\n/)
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface SavedState {
  id: string;
  session: { uploadId: string; parts: unknown[] };
  done: Array<{ number: number; size: number }>;
  finalizing?: boolean;
}

/** The state files (`<16 hex>.json`) in a state folder. */
export function readStates(stateDir: string): SavedState[] {
  if (!fs.existsSync(stateDir)) return [];
  return fs
    .readdirSync(stateDir)
    .filter((f) => /^[0-9a-f]{16}\.json$/.test(f))
    .map((f) => JSON.parse(fs.readFileSync(path.join(stateDir, f), 'utf8')) as SavedState);
}
