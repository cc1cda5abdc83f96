// Which of the bundle's modules a CLI run loaded: the chunks it resolved (record-loads.mjs), read for
// the `// src/…` and `// node_modules/…` header esbuild writes above each module it bundles.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './cli.js';

export const RECORD_LOADS = path.join(ROOT, 'test', 'helpers', 'record-loads.mjs');

/** The env that makes a CLI run record its loads in `log`. */
export function recordLoadsEnv(log: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=${RECORD_LOADS}`, LAKEUP_TEST_LOADS: log };
}

/** The bundled modules (src/… and node_modules/… paths) in the dist/ files the run recorded in `log`. */
export function loadedModules(log: string): Set<string> {
  const dist = path.join(ROOT, 'dist') + path.sep;
  const modules = new Set<string>();
  const urls = new Set(fs.readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith('file:')));
  for (const url of urls) {
    const file = fileURLToPath(url);
    if (!file.startsWith(dist)) continue;
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm)) modules.add(m[1]);
  }
  return modules;
}

/** Whether any loaded module lies under `prefix` (a src/ file or a package's folder). */
export function hasModule(modules: Set<string>, prefix: string): boolean {
  for (const m of modules) if (m.startsWith(prefix)) return true;
  return false;
}
