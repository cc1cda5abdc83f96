#!/usr/bin/env node
// Thin launcher: everything lives in the CLI built into dist/ (npm ci builds it via `prepare`).
import { main } from '../dist/cli/main.js';
import { redact } from '../dist/util/redact.js';

let settled = false;
// Last line of defence for "never report a half-finished upload as done": if the event loop ever
// empties while main() is still waiting on something, Node would exit 0. Make that a failure.
process.on('exit', (code) => {
  if (!settled && code === 0) {
    process.stderr.write('lakeup: internal error: stopped before the command finished\n');
    process.exitCode = 1;
  }
});
// `lakeup list | head -1`: a closed pipe is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') return;
    throw err;
  });
}

main(process.argv).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (err) => {
    settled = true;
    // main() maps every expected failure to an exit code itself; this is the last line of defence.
    process.stderr.write(`lakeup: internal error: ${redact(err && err.message ? err.message : String(err))}\n`);
    process.exitCode = 1;
  },
);
