// The only place that turns failures into what the user sees: one line on stderr (and a JSON line
// on stdout with --json), and an exit code. No stack traces.
import type { CommanderError } from 'commander';
import { toLakeupError, type ErrorKind } from '../errors.js';
import { redact } from '../util/redact.js';

export interface ReportOptions {
  json: boolean;
  verbose: boolean;
  /** The file the failure belongs to (named in the JSON line); none for a usage error. */
  file?: string;
  err: (line: string) => void;
  out: (line: string) => void;
  /** Says the one line in its own form (a GitHub Actions annotation) instead of `lakeup: error: …` on err. */
  headline?: (message: string) => void;
}

/** What a failure's lines say: its kind and its one-line message, redacted. */
export function failureOf(e: unknown): { kind: ErrorKind; message: string } {
  const err = toLakeupError(e);
  return { kind: err.kind, message: redact(joinLines(err.message)) };
}

export function reportError(e: unknown, o: ReportOptions): number {
  const err = toLakeupError(e);
  const { message } = failureOf(err);
  if (o.headline) o.headline(message);
  else o.err(`lakeup: error: ${message}`);
  if (o.verbose) {
    const cause = (err.cause as NodeJS.ErrnoException | undefined) ?? undefined;
    const bits = [err.code && `code=${err.code}`, err.status && `status=${err.status}`, cause?.code && `cause=${cause.code}`]
      .filter(Boolean)
      .join(' ');
    if (bits) o.err(`lakeup: detail: ${redact(bits)}`);
    if (err.detail) o.err(`lakeup: detail: ${redact(joinLines(err.detail))}`);
  }
  if (o.json) o.out(JSON.stringify(o.file !== undefined ? { ok: false, file: o.file, error: { kind: err.kind, message } } : { ok: false, error: { kind: err.kind, message } }));
  return err.exitCode;
}

export function exitCodeOfCommander(e: CommanderError): number {
  if (e.exitCode === 0) return 0;
  return 2;
}

/** Line breaks (and the spaces around them) become one space; other spacing is kept as written. */
export function joinLines(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
