#!/usr/bin/env node
// Thin launcher: everything lives in the CLI built into dist/ (npm ci builds it via `prepare`).
import { setFlagsFromString } from 'node:v8';
import { main } from '../dist/cli/main.js';

// undici parses HTTP answers with a WebAssembly llhttp. V8 re-compiles its hot functions with
// TurboFan in the background, which briefly takes ~30 MB of memory (a third of an upload's peak)
// to speed up parsing a few small answers. The baseline compiler is plenty for that.
// Measured on an upload of a 6 MB file: peak RSS 112 → 77 MB.
try {
  setFlagsFromString('--liftoff-only');
} catch {
  /* an engine without the flag: nothing to save */
}

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
