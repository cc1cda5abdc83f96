import type { LinkOptions } from './link.js';

// Public types of `lakeup sandbox`: the options it starts with, the faults it injects, the canned answers tests script,
// and the statistics it reports. Everything here is plain data so it can also travel as JSON over /_sandbox/*.

export interface SandboxOptions {
  /** TCP port; default 8787; 0 picks a free port (read it back from `origin`). */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Where finished files are written under their names; default a fresh temp dir (created). */
  dir?: string;
  /** The only bearer token the provider APIs accept; default 'lakeup-sandbox'. */
  token?: string;
  /** Presigned URL lifetime in ms (X-Amz-Expires is whole seconds, at least 1, at most 7 days); default 3600_000. */
  urlTtlMs?: number;
  /** Force MemoryLake's layout part size in bytes (tests use small parts); default: the server rule in layout.ts. */
  memorylakePartSize?: number;
  /** Benchmark mode: part bodies are MD5-hashed and discarded, finalize writes no file. */
  sink?: boolean;
  /** A distant link in front of the sandbox (latency each way, a per-connection rate): see link.ts. */
  link?: LinkOptions;
  /** Faults injected into part PUTs (and throttling into API calls). */
  faults?: FaultOptions;
  /** PRNG seed for the faults (deterministic for a given request order); default random. */
  seed?: number;
  /** Copera presigned-urls/finalize/folder answer shape when the request does not ask (x-sandbox-shape); default 'docs'. */
  coperaShape?: CoperaShape;
  /** One line per request when set: method, path (query signature removed), status, ms. */
  log?: (line: string) => void;
}

export interface FaultOptions {
  /** Part PUT answers 500 InternalError / 502 / 503 / 504 (S3 XML body) instead of storing. */
  failRate?: number;
  /** Part PUT: the socket is destroyed after reading part of the body (connection reset). */
  resetRate?: number;
  /** Part PUT answers 503 SlowDown + Retry-After: 1; API calls answer 429 + Retry-After: 1 with the provider's body. */
  throttleRate?: number;
  /** Part PUT stores the body with one byte flipped and answers the MD5 ETag of those (different) bytes. */
  corruptRate?: number;
  /** Part PUT reads the whole body, then never answers (until the client gives up or the sandbox closes). */
  stallRate?: number;
  /** Added before every part PUT and provider API response. */
  latencyMs?: number;
}

export type FaultKind = 'fail' | 'reset' | 'throttle' | 'corrupt' | 'stall';

export type CoperaShape = 'docs' | 'sdk';

export type ScriptRoute =
  | 'memorylake.create'
  | 'memorylake.item'
  | 'copera.start'
  | 'copera.presign'
  | 'copera.finalize'
  | 'copera.folder'
  | 'part';

/**
 * The next `times` requests to `route` (after authentication; for parts after the URL checks) get this answer instead
 * of the real one. With `shape` and no `status`, Copera requests are handled for real but answered in that shape.
 */
export interface ScriptRule {
  route: ScriptRoute;
  /** How many requests it answers; default 1. */
  times?: number;
  /** HTTP status of the canned answer; required unless `shape` is given. */
  status?: number;
  /** A string is sent verbatim (malformed JSON welcome); an object is sent as JSON. */
  body?: string | object;
  headers?: Record<string, string>;
  /** Copera routes only: answer in this shape (no canned body). */
  shape?: CoperaShape;
}

export type FinalizedProvider = 'memorylake' | 'copera' | 'plain' | 's3';

export interface FinalizedFile {
  provider: FinalizedProvider;
  /** The name the file got (after conflict renaming), or the plain/S3 key. */
  name: string;
  /** Absolute path of the written file; null in sink mode. */
  path: string | null;
  size: number;
  /** Provider item id (MemoryLake item_id, Copera _id); absent for plain/S3. */
  id?: string;
  /** S3-style ETag of the whole object: md5 hex for one body, md5(concat(part md5s))-N for multipart. */
  etag: string;
}

export interface SandboxStats {
  /** Part PUT requests per upload id and part number, whatever their outcome (faults, expired URLs included). */
  partPuts: Record<string, Record<string, number>>;
  /** Part bodies actually stored (the newest wins) per upload id and part number. */
  partsStored: Record<string, Record<string, number>>;
  totalPartPuts: number;
  /** Requests per route name: the ScriptRoute names (except 'part'), 'plain', 's3.initiate|part|complete|put|abort'. */
  apiCalls: Record<string, number>;
  /** Body bytes read on /storage, /plain and /s3 (faulted and aborted bodies included). */
  bytesReceived: number;
  /** Upload sessions created (MemoryLake sessions + Copera starts). */
  sessions: number;
  finalized: FinalizedFile[];
  faultsInjected: Record<FaultKind, number>;
}

export interface SandboxHandle {
  /** e.g. http://127.0.0.1:8787 — the base URL for both providers' APIs. */
  origin: string;
  token: string;
  /** Absolute directory finished files are written to. */
  dir: string;
  stats(): SandboxStats;
  /** Stops listening, destroys open sockets (stalled ones too), removes unfinished part files. */
  close(): Promise<void>;
  /** Replaces the fault options (validated; throws on an unknown key or a rate outside 0…1). */
  setFaults(f: FaultOptions): void;
  /** Every presigned URL issued so far answers 403 "Request has expired" from now on; new ones are fresh. */
  expireAllUrls(): void;
  script(rule: ScriptRule): void;
}
