// lakeup's version: written into the bundle by the build (scripts/build.mjs); from src (the tests)
// read from package.json.
import { readFileSync } from 'node:fs';

declare const LAKEUP_VERSION: string | undefined;

export function version(): string {
  if (typeof LAKEUP_VERSION === 'string') return LAKEUP_VERSION;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
