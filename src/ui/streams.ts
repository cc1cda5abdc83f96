// The only way text leaves lakeup: every line to stdout or stderr goes through here and is
// redacted on the way, so whatever a server echoed (an error page quoting a presigned URL, a
// token) never reaches a terminal or a log; and its control characters are escaped, so that no
// server's or file's name can clear the screen or write the clipboard. Light on purpose (no
// chalk): --help and --version use it.
import { printable } from '../util/printable.js';
import { redact } from '../util/redact.js';

/**
 * Text as it may reach a terminal: redacted, control characters escaped. `keepSgr`: colour is on,
 * and lakeup's own colour sequences pass (a foreign one could only recolour text, never move,
 * clear, retitle or write the clipboard).
 */
export function safeText(text: string, keepSgr = false): string {
  return printable(redact(text), keepSgr);
}

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

export function processWriters(
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
  /** Colour is on: lakeup's SGR sequences pass. */
  keepSgr = false,
): Writers {
  return {
    err: (line) => void stderr.write(`${safeText(line, keepSgr)}\n`),
    out: (line) => void stdout.write(`${safeText(line, keepSgr)}\n`),
    rawOut: (text) => void stdout.write(safeText(text, keepSgr)),
    rawErr: (text) => void stderr.write(safeText(text, keepSgr)),
  };
}
