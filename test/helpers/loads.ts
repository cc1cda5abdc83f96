// Which of the bundle's modules a CLI run loaded: the chunks it resolved (record-loads.mjs), and the
// source modules the build says each holds (dist/lakeup.modules.json, from esbuild's metafile).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT } from './cli.js';

export const RECORD_LOADS = path.join(ROOT, 'test', 'helpers', 'record-loads.mjs');

/** The env that makes a CLI run record its loads in `log`. */
export function recordLoadsEnv(log: string): Record<string, string> {
  // A file URL: on Windows a drive path would read as a URL scheme.
  return { NODE_OPTIONS: `--import=${pathToFileURL(RECORD_LOADS).href}`, LAKEUP_TEST_LOADS: log };
}

/** The bundled modules (src/… and node_modules/… paths) in the dist/ files the run recorded in `log`. */
export function loadedModules(log: string): Set<string> {
  const dist = path.join(ROOT, 'dist');
  const held = JSON.parse(fs.readFileSync(path.join(dist, 'lakeup.modules.json'), 'utf8')) as Record<string, string[]>;
  const modules = new Set<string>();
  for (const url of fs.readFileSync(log, 'utf8').split('\n')) {
    if (!url.startsWith('file:')) continue;
    const file = path.relative(dist, fileURLToPath(url)).split(path.sep).join('/');
    for (const m of held[file] ?? []) modules.add(m);
  }
  return modules;
}

/** Whether any loaded module lies under `prefix` (a src/ file or a package's folder). */
export function hasModule(modules: Set<string>, prefix: string): boolean {
  for (const m of modules) if (m.startsWith(prefix)) return true;
  return false;
}

/** Node's own internal modules the run loaded (`internal/deps/undici/undici`, …), as record-loads.mjs saw them at exit. */
export function loadedInternals(log: string): Set<string> {
  const lines = fs.readFileSync(log, 'utf8').split('\n');
  return new Set(lines.filter((l) => l.startsWith('internal:')).map((l) => l.slice('internal:'.length)));
}
