import type { LinkOptions } from './link.js';

// Public types of `lakeup sandbox`: the options it starts with, the faults it injects, the canned answers tests script,
// and the statistics it reports. Everything here is plain data so it can also travel as JSON over /_sandbox/*.

export interface SandboxOptions {
  /** TCP port; default 8787; 0 picks a free port (read it back from `origin`). */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Where finished files are written: `<dir>/memorylake/…` and `<dir>/copera/…`, each provider's drive apart, under
   * their names. Default a fresh temp dir, created here and removed again by close().
   */
  dir?: string;
  /** The main account's bearer token; default 'lakeup-sandbox'. */
  token?: string;
  /** More tokens of the main account (a rotated token): they see the same drives as `token`. */
  moreTokens?: string[];
  /**
   * Tokens of other accounts, one account each, with drives of their own (`<dir>/account-<n>/<provider>`, n from 1):
   * they do not see the main account's items (a lookup answers 404) nor its upload sessions, nor it theirs.
   */
  otherAccountTokens?: string[];
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
  /**
   * Account-wide API rate limit in calls per second (0 = unlimited); when given it wins over `faults.apiRate`. It is
   * a fault option from then on: setFaults() / POST /_sandbox/faults replace it too (absent = unlimited).
   */
  apiRate?: number;
  /** PRNG seed for the faults (deterministic for a given request order); default random. */
  seed?: number;
  /** Copera answer shape (presigned-urls, finalize, folder, tree, files/{id}, search) when the request does not ask (x-sandbox-shape); default 'docs'. */
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
  /**
   * Account-wide API rate limit, calls per second; 0 or absent = unlimited. One token bucket shared by every provider
   * API call of both providers (not part PUTs, /plain, /s3, /_sandbox), holding one second of calls (at least 1) and
   * refilled continuously. A call past it gets 429 + Retry-After; Copera answers carry x-ratelimit-* on every call.
   */
  apiRate?: number;
}

export type FaultKind = 'fail' | 'reset' | 'throttle' | 'corrupt' | 'stall';

export type CoperaShape = 'docs' | 'sdk';

/** Provider API routes, as named in stats, scripts and holds. */
export type ApiRoute =
  | 'memorylake.create' // POST …/drives/items/upload
  | 'memorylake.item' // POST …/drives/items (Create Item: file from an upload, or folder)
  | 'memorylake.children' // GET …/drives/items/{item_id}/children
  | 'memorylake.get' // GET …/drives/items/{item_id}
  | 'copera.start'
  | 'copera.presign'
  | 'copera.finalize'
  | 'copera.folder'
  | 'copera.tree' // GET /public/v1/drive/tree
  | 'copera.get' // GET /public/v1/drive/files/{id}
  | 'copera.search'; // GET /public/v1/drive/search

export type ScriptRoute = ApiRoute | 'part';

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

/**
 * Hold one API answer (POST /_sandbox/hold): the next `times` successful calls to `route` are never answered; the
 * socket stays open until the client goes away or the sandbox closes. Made for "the client was killed while finalize
 * was in flight" (routes memorylake.item and copera.finalize), accepted for every API route.
 */
export interface HoldRule {
  route: ApiRoute;
  /**
   * 'after': the call is carried out for real (a finalized file is in the drive and in stats.finalized), then its 2xx
   * answer is withheld; an error answer is sent as usual and does not use the hold up.
   * 'before': the request is read (after auth, rate limit and scripts) and then neither acted on nor answered.
   */
  when: 'after' | 'before';
  /** How many calls it holds; default 1. */
  times?: number;
}

/**
 * TEST CONTROL, not a provider call: an item placed straight into the sandbox's drive (SandboxHandle.seed,
 * POST /_sandbox/seed), as if it had been uploaded or created. Listing, lookup and search see it like any other item;
 * it is not counted in stats.finalized or stats.foldersCreated, and a seeded file has no bytes on disk.
 */
export interface SeedItem {
  provider: 'memorylake' | 'copera';
  type: 'file' | 'folder';
  name: string;
  /** The parent folder's id (an earlier seed's or a real one); null/absent = the provider's root. */
  parentId?: string | null;
  /** Default: a fresh id in the provider's format (MemoryLake `sc-…:…`, Copera 24 hex). */
  id?: string;
  /** Files only; default 0. */
  size?: number;
  /** Files only: the MemoryLake etag; default a made-up `<32 hex>-1`. */
  etag?: string;
  /** Files only; default application/octet-stream in answers. */
  mimeType?: string;
  xAttrs?: Record<string, string>;
  /** ISO 8601 or epoch ms; default now. Also the updated time. */
  createdAt?: string | number;
}

/** What seed() placed, in the order given. */
export interface SeededItem {
  id: string;
  name: string;
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
  /** Parent folder id, null for the provider's root; absent for plain/S3. */
  parentId?: string | null;
  /** S3-style ETag of the whole object: md5 hex for one body, md5(concat(part md5s))-N for multipart. */
  etag: string;
}

export interface SandboxStats {
  /** Part PUT requests per upload id and part number, whatever their outcome (faults, expired URLs included). */
  partPuts: Record<string, Record<string, number>>;
  /** Part bodies actually stored (the newest wins) per upload id and part number. */
  partsStored: Record<string, Record<string, number>>;
  totalPartPuts: number;
  /** Requests per route name: the ApiRoute names, 'plain', 's3.initiate|part|complete|put|abort'. */
  apiCalls: Record<string, number>;
  /** API calls refused 429 by the account-wide rate limit (apiRate); random throttleRate 429s are in faultsInjected. */
  rateLimited: number;
  /** API calls held unanswered by a HoldRule so far (counted once the hold begins: for 'after', once the call took effect). */
  held: number;
  /** Body bytes read on /storage, /plain and /s3 (faulted and aborted bodies included). */
  bytesReceived: number;
  /** Upload sessions created (MemoryLake sessions + Copera starts). */
  sessions: number;
  finalized: FinalizedFile[];
  /** Folders the provider APIs created (not ones they handed back for overwrite/replace, not seeded ones). */
  foldersCreated: CreatedFolder[];
  faultsInjected: Record<FaultKind, number>;
}

export interface CreatedFolder {
  provider: 'memorylake' | 'copera';
  /** The name it got (after conflict renaming). */
  name: string;
  id: string;
  /** null for the provider's root. */
  parentId: string | null;
}

export interface SandboxHandle {
  /** e.g. http://127.0.0.1:8787 — the base URL for both providers' APIs. */
  origin: string;
  token: string;
  /** Absolute directory finished files are written to (each provider's drive in `<dir>/<provider>`). */
  dir: string;
  stats(): SandboxStats;
  /** Stops listening, destroys open sockets (stalled ones too), removes unfinished part files, and `dir` if it made it. */
  close(): Promise<void>;
  /** Replaces the fault options, apiRate included (validated; throws on an unknown key or a rate outside 0…1). */
  setFaults(f: FaultOptions): void;
  /** Every presigned URL issued so far answers 403 "Request has expired" from now on; new ones are fresh. */
  expireAllUrls(): void;
  script(rule: ScriptRule): void;
  /** Queues a hold (validated; throws on a bad rule). Wait for it with stats().held. */
  hold(rule: HoldRule): void;
  /** TEST CONTROL: places items straight into the drive (see SeedItem); all or nothing; throws on a bad item. */
  seed(items: readonly SeedItem[]): SeededItem[];
}
