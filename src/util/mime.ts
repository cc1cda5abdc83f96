// MIME types from file extensions, via mime-types. Its database is ~5 MB of memory, so it is
// loaded on first use (Copera uploads only; MemoryLake takes no MIME type).
import { createRequire } from 'node:module';

let lookup: ((file: string) => string | false) | undefined;

/** The MIME type of a file from its extension; application/octet-stream when unknown. */
export function lookupMimeType(file: string): string {
  lookup ??= (createRequire(import.meta.url)('mime-types') as typeof import('mime-types')).lookup;
  return lookup(file) || 'application/octet-stream';
}
