// MIME types from file extensions, via mime-types. Its database (mime-db) is ~150 KB of source and
// ~5 MB of memory, so it is imported only by a run that needs it (Copera without --mime-type;
// MemoryLake takes no MIME type): in the bundle it is a chunk of its own, which a MemoryLake put
// never reads (scanning it cost ~12 ms of CPU at every start while it sat in the put path's chunk).

/** The lookup: a file's MIME type from its extension, application/octet-stream when unknown. */
export type MimeLookup = (file: string) => string;

let loading: Promise<MimeLookup> | undefined;

/** Loads mime-types (once) and returns its lookup. */
export function loadMimeLookup(): Promise<MimeLookup> {
  // A CommonJS package: its module.exports is the default export (the bundle's chunk has no other).
  loading ??= import('mime-types').then((m) => {
    const { lookup } = m.default;
    return (file: string) => lookup(file) || 'application/octet-stream';
  });
  return loading;
}
