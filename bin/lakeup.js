#!/usr/bin/env node
// Thin launcher: the CLI is one bundled module, dist/lakeup.js (`npm run build`; a packed tarball
// carries it). Before loading it: Node's compile cache where Node has it, source maps for --verbose.
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';

const verbose =
  process.argv.includes('--verbose') || process.argv.includes('-v') || /^\s*(1|true|yes|on)\s*$/i.test(process.env.LAKEUP_VERBOSE ?? '');

/** The per-user cache folder, beside the state folder (src/state/location.ts). */
function cacheDir() {
  const home = os.homedir();
  if (process.platform === 'win32') return path.win32.join(process.env.LOCALAPPDATA || path.win32.join(home, 'AppData', 'Local'), 'lakeup', 'cache');
  if (process.platform === 'darwin') return path.posix.join(home, 'Library', 'Caches', 'lakeup');
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.cache'), 'lakeup');
}

// Node ≥ 22.8 keeps the compiled bundle between runs (NODE_DISABLE_COMPILE_CACHE=1 turns it off);
// Node 20 has no such API and compiles it every time. A cache it cannot write is no error.
if (typeof module.enableCompileCache === 'function') {
  try {
    module.enableCompileCache(path.join(cacheDir(), 'compile-cache'));
  } catch {
    /* run without it */
  }
}
// Stack traces that name src/ files and lines: only asked for with --verbose (the map is read on load).
if (verbose) process.setSourceMapsEnabled(true);

const { main, redactText } = await import('../dist/lakeup.js');

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
  async (err) => {
    // main() maps every expected failure to an exit code itself; this is the last line of defence.
    process.exitCode = 1;
    process.stderr.write(`lakeup: internal error: ${await redactText(err && err.message ? err.message : String(err))}\n`);
    // With --verbose, where it happened (src/ files and lines through the source map).
    if (verbose && err && typeof err.stack === 'string') process.stderr.write(`${await redactText(err.stack.split('\n').slice(1).join('\n'))}\n`);
    settled = true;
  },
);
