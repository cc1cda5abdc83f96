#!/usr/bin/env node
// Thin launcher: everything lives in the CLI built into dist/ (npm ci builds it via `prepare`).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // main() maps every expected failure to an exit code itself; this is the last line of defence.
    process.stderr.write(`lakeup: internal error: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
