// The resumable state of one upload: a small JSON file per upload, written atomically (temp file +
// rename, see atomic-write.ts) with mode 0600 — it holds presigned URLs, which are write
// credentials — never the token. 0600 protects it on POSIX systems; on Windows the mode is ignored
// and the protection is the per-user profile folder the state lives in (see atomic-write.ts).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import type { Destination, FileFingerprint, FinishedPart, ProviderName, Session } from '../types.js';
import { renameWithRetry, writeFileAtomic, writeFileAtomicSync } from './atomic-write.js';
import { ensureStateDir, ensureStateDirAsync, isId } from './state-dir.js';
import { removeFile, removeFileSync } from './remove.js';

export { ensureStateDir } from './state-dir.js';

export const STATE_VERSION = 1;

export interface StateFile {
  version: typeof STATE_VERSION;
  id: string;
  provider: ProviderName;
  endpoint: string;
  dest: Destination;
  file: FileFingerprint;
  partSize?: number;
  session: Session;
  done: FinishedPart[];
  /** Set just before finalize is sent: the item may exist even if we never saw the answer. */
  finalizing?: boolean;
  /** Epoch ms just before finalize was sent: an item it made was created no earlier. */
  finalizeSentAt?: number;
  /**
   * The run this upload is a file of (its journal's key, and the file's entry there): whoever
   * finishes it — the run, `lakeup resume <id>`, a single put — records it in that journal, so the
   * run never sends it again.
   */
  run?: { key: string; to: string };
  /** The folder lakeup was started from: `lakeup resume` with no id resumes what was started there. */
  cwd?: string;
  /** --limit-rate of the command that started it, bytes a second: `lakeup resume <id>` is held to it too. */
  limitRate?: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * The id of an upload: what it sends (absolute path) where (provider, endpoint, destination). Size
 * and mtime are deliberately not in it: they are compared after loading, so that a changed file
 * is recognised and reported instead of silently starting a second upload.
 */
export function stateId(provider: ProviderName, endpoint: string, absPath: string, dest: Destination): string {
  // Windows paths are case-insensitive: C:\Data\a.bin and c:\data\A.BIN are one file.
  const file = process.platform === 'win32' ? absPath.toLowerCase() : absPath;
  const key = JSON.stringify([provider, endpoint.replace(/\/+$/, ''), file, dest.parent ?? '', dest.name]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function statePath(dir: string, id: string): string {
  return path.join(dir, `${id}.json`);
}

export function urlsPath(dir: string, id: string): string {
  return path.join(dir, `${id}.urls.json`);
}

/** What the URL file holds: the presigned URLs of one session, written only when they change. */
interface UrlFile {
  uploadId: string;
  urls: string[];
  urlsIssuedAt: number;
  urlTtlMs?: number;
}

/**
 * Writes the state atomically (temp file, fsync, rename). The presigned URLs — most of the bytes
 * for a many-part upload — live in a second file written only when they change (`withUrls`: a new
 * session or a refresh), so the per-part write stays small: rewriting 10,000 URLs after each of
 * 10,000 parts would cost O(parts²).
 */
export function saveState(dir: string, state: StateFile, opts: { withUrls?: boolean } = {}): void {
  ensureStateDir(dir);
  state.updatedAt = Date.now();
  if (opts.withUrls !== false) {
    const { uploadId, urls, urlsIssuedAt, urlTtlMs } = state.session;
    const urlFile: UrlFile = { uploadId, urls, urlsIssuedAt, urlTtlMs };
    writeAtomic(dir, urlsPath(dir, state.id), JSON.stringify(urlFile));
  }
  writeAtomic(dir, statePath(dir, state.id), stateText(state));
}

/** The main state file's text (everything but the URLs, which `saveState` writes beside it). */
export function stateText(state: StateFile): string {
  const { urls: _urls, ...session } = state.session;
  return JSON.stringify({ ...state, session });
}

/**
 * `saveState(…, { withUrls: false })` without blocking the event loop: the write and its fsync
 * run on libuv's threads. Same atomicity (own temp file, fsync, rename retried while Windows holds
 * the file), same STATE_DIR error.
 */
export async function saveStateAsync(dir: string, state: StateFile): Promise<void> {
  state.updatedAt = Date.now();
  const text = stateText(state); // a snapshot: later changes wait for the next write
  await writeFileAtomic(statePath(dir, state.id), text, { mode: 0o600 });
}

/** Writes `text` to `file` in the state folder atomically (temp file, fsync, rename), mode 0600. */
export function writeAtomic(dir: string, file: string, text: string): void {
  ensureStateDir(dir);
  writeFileAtomicSync(file, text, { mode: 0o600 });
}

export type LoadResult =
  | { status: 'missing' }
  | { status: 'ok'; state: StateFile }
  | { status: 'invalid'; reason: string; file: string };

/** Loads and checks a state file. Anything malformed is reported as invalid, never trusted. */
export function loadState(dir: string, id: string): LoadResult {
  const file = statePath(dir, id);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return { status: 'invalid', reason: `cannot read it (${(err as Error).message})`, file };
  }
  return parseState(dir, id, file, text, (f) => fs.readFileSync(f, 'utf8'));
}

/** `loadState` without blocking the event loop (the common answer, no state, costs one failed open). */
export async function loadStateAsync(dir: string, id: string): Promise<LoadResult> {
  const file = statePath(dir, id);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return { status: 'invalid', reason: `cannot read it (${(err as Error).message})`, file };
  }
  let urls: string | undefined;
  try {
    urls = await fs.promises.readFile(urlsPath(dir, id), 'utf8');
  } catch {
    urls = undefined;
  }
  return parseState(dir, id, file, text, () => {
    if (urls === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return urls;
  });
}

function parseState(dir: string, id: string, file: string, text: string, readUrls: (file: string) => string): LoadResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: 'invalid', reason: 'it is not valid JSON', file };
  }
  const merged = withUrls(dir, id, json, readUrls);
  if (typeof merged === 'string') return { status: 'invalid', reason: merged, file };
  const why = validateState(merged, id);
  return why ? { status: 'invalid', reason: why, file } : { status: 'ok', state: merged as StateFile };
}

/** Puts the URL file's URLs back into the session, or says why they cannot be used. */
function withUrls(dir: string, id: string, json: unknown, readUrls: (file: string) => string): unknown {
  const s = json as Partial<StateFile> | null;
  if (!s || typeof s !== 'object' || !s.session || typeof s.session !== 'object') return json;
  if (Array.isArray(s.session.urls)) return json; // an older single-file state
  let u: Partial<UrlFile>;
  try {
    u = JSON.parse(readUrls(urlsPath(dir, id)));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'its part URLs are missing' : 'its part URL file is not valid JSON';
  }
  if (!u || u.uploadId !== s.session.uploadId || !Array.isArray(u.urls)) return 'its part URLs belong to another session';
  return { ...s, session: { ...s.session, urls: u.urls, urlsIssuedAt: u.urlsIssuedAt ?? s.session.urlsIssuedAt, urlTtlMs: u.urlTtlMs ?? s.session.urlTtlMs } };
}

/** Returns why `json` is not a usable state file of upload `id`, or undefined when it is. */
export function validateState(json: unknown, id?: string): string | undefined {
  if (!json || typeof json !== 'object') return 'it is not an object';
  const s = json as Partial<StateFile>;
  if (s.version !== STATE_VERSION) return `it has version ${String(s.version)}, expected ${STATE_VERSION}`;
  if (!isId(s.id) || (id !== undefined && s.id !== id)) return 'it belongs to another upload';
  // Joined into paths (the run's journal): a key that is not an id could name any file.
  if (s.run !== undefined && (!isId(s.run?.key) || typeof s.run.to !== 'string')) return 'the run it names is not valid';
  if (s.provider !== 'memorylake' && s.provider !== 'copera') return 'its provider is unknown';
  if (typeof s.endpoint !== 'string') return 'it has no endpoint';
  if (!s.file || typeof s.file.path !== 'string' || typeof s.file.size !== 'number' || typeof s.file.mtimeMs !== 'number') {
    return 'its file fingerprint is incomplete';
  }
  if (!s.dest || typeof s.dest.name !== 'string') return 'it has no destination';
  const se = s.session;
  if (!se || typeof se.uploadId !== 'string' || !Array.isArray(se.parts) || !Array.isArray(se.urls)) return 'its session is incomplete';
  if (se.urls.length !== se.parts.length) return 'its URLs do not match its parts';
  let offset = 0;
  for (const [i, p] of se.parts.entries()) {
    if (!p || p.number !== i + 1 || p.offset !== offset || !(p.size > 0)) return 'its part layout is inconsistent';
    offset += p.size;
  }
  if (offset !== s.file.size) return 'its part layout does not cover the file';
  if (!Array.isArray(s.done)) return 'its finished parts are missing';
  const seen = new Set<number>();
  for (const d of s.done) {
    const spec = se.parts[d?.number - 1];
    if (!spec || typeof d.etag !== 'string' || d.etag === '' || d.size !== spec.size) return 'its finished parts do not match the layout';
    if (seen.has(d.number)) return 'its finished parts list a part twice';
    seen.add(d.number);
  }
  return undefined;
}

/**
 * Moves an unusable state file aside (kept for inspection, never silently deleted), on libuv's
 * threads (an upload in a run sets a bad state aside while others move).
 */
export async function quarantineStateAsync(file: string): Promise<string> {
  const aside = `${file}.invalid-${Date.now()}`;
  try {
    await renameWithRetry(file, aside);
  } catch {
    return file;
  }
  const urls = file.replace(/\.json$/, '.urls.json');
  if (urls !== file) await removeFile(urls);
  return aside;
}

export function removeState(dir: string, id: string): void {
  removeFileSync(statePath(dir, id));
  removeFileSync(urlsPath(dir, id));
}

export function listStates(dir: string): Array<{ id: string; state?: StateFile; invalid?: string }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LakeupError('state', `cannot read the state folder ${dir}: ${(err as Error).message}`);
  }
  const out: Array<{ id: string; state?: StateFile; invalid?: string }> = [];
  for (const name of names.sort()) {
    const m = /^([0-9a-f]{16})\.json$/.exec(name);
    if (!m) continue;
    const r = loadState(dir, m[1]);
    if (r.status === 'ok') out.push({ id: m[1], state: r.state });
    else if (r.status === 'invalid') out.push({ id: m[1], invalid: r.reason });
  }
  return out;
}

/** `removeState` on libuv's threads. */
export async function removeStateAsync(dir: string, id: string): Promise<void> {
  await Promise.all([removeFile(statePath(dir, id)), removeFile(urlsPath(dir, id))]);
}

/** `saveState` on libuv's threads: the URL file (unless `withUrls: false`), then the state. */
export async function saveStateFullAsync(dir: string, state: StateFile, opts: { withUrls?: boolean } = {}): Promise<void> {
  if (opts.withUrls !== false) {
    const { uploadId, urls, urlsIssuedAt, urlTtlMs } = state.session;
    const urlFile: UrlFile = { uploadId, urls, urlsIssuedAt, urlTtlMs };
    await ensureStateDirAsync(dir);
    await writeFileAtomic(urlsPath(dir, state.id), JSON.stringify(urlFile), { mode: 0o600 });
  }
  await saveStateAsync(dir, state);
}

/** The upload ids with a state file, and those with a lock file, in a folder: read once per run. */
export interface StateListing {
  states: ReadonlySet<string>;
  locks: ReadonlySet<string>;
}

export async function listStateFolder(dir: string): Promise<StateListing> {
  let names: string[] = [];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    /* no folder yet: nothing saved */
  }
  const ids = (re: RegExp) => new Set(names.map((n) => re.exec(n)?.[1]).filter((x): x is string => x !== undefined));
  return { states: ids(/^([0-9a-f]{16})\.json$/), locks: ids(/^([0-9a-f]{16})\.lock$/) };
}
