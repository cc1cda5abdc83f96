// The only way text leaves lakeup: every line to stdout or stderr goes through here and is
// redacted on the way, so whatever a server echoed (an error page quoting a presigned URL, a
// token) never reaches a terminal or a log. Light on purpose (no chalk): --help and --version use it.
import { redact } from '../util/redact.js';

export interface Writers {
  /** Writes one line to stderr (human messages). */
  err(line: string): void;
  /** Writes one line to stdout (machine results). */
  out(line: string): void;
  /** Writes text as it is (help, completion scripts) to stdout. */
  rawOut(text: string): void;
  /** Writes text as it is to stderr. */
  rawErr(text: string): void;
}

export function processWriters(stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Writers {
  return {
    err: (line) => void stderr.write(`${redact(line)}\n`),
    out: (line) => void stdout.write(`${redact(line)}\n`),
    rawOut: (text) => void stdout.write(redact(text)),
    rawErr: (text) => void stderr.write(redact(text)),
  };
}
