// MIME types from file extensions, via mime-types. Its database is ~5 MB of memory, so it is
// loaded on first use (Copera uploads only; MemoryLake takes no MIME type).
import { createRequire } from 'node:module';

let lookup: ((file: string) => string | false) | undefined;

/**
 * In the bundle (scripts/build.mjs) `require` is defined and the bundler sees the call, so mime-types
 * is bundled and still loaded on first use; from src (the tests) it is required from node_modules.
 */
function loadMimeTypes(): typeof import('mime-types') {
  return typeof require === 'function' ? (require('mime-types') as typeof import('mime-types')) : (createRequire(import.meta.url)('mime-types') as typeof import('mime-types'));
}

/** The MIME type of a file from its extension; application/octet-stream when unknown. */
export function lookupMimeType(file: string): string {
  lookup ??= loadMimeTypes().lookup;
  return lookup(file) || 'application/octet-stream';
}
