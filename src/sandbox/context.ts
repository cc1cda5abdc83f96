// The state one running sandbox shares between its routes: upload sessions, parts, the drive, faults, stats, scripts
// and holds.
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Drive } from './drive.js';
import type { DriveItem } from './drive.js';
import { FaultInjector } from './faults.js';
import { HoldQueue } from './holds.js';
import { bearer, send } from './http.js';
import type { Headers } from './http.js';
import type { LayoutPart } from './layout.js';
import { PartStore } from './parts.js';
import type { StoredPart } from './parts.js';
import { UrlSigner } from './presign.js';
import { ScriptQueue } from './scripts.js';
import { StatsRecorder } from './stats.js';
import type { CoperaShape } from './types.js';

export interface UploadSession {
  id: string;
  provider: 'memorylake' | 'copera' | 's3';
  bucket: string;
  key: string;
  /** Declared size (MemoryLake file_size, Copera fileSize). */
  fileSize?: number;
  /** MemoryLake's layout. */
  layout?: LayoutPart[];
  parts: Map<number, StoredPart>;
  /** Parts are accepted while 'open'; 'finalizing' while the file is assembled; 'done' once finalized or aborted. */
  state: 'open' | 'finalizing' | 'done';
  fileName?: string;
  mimeType?: string;
  parent?: DriveItem | null;
  /** The account that started it (an index into ContextOptions.accounts): another account's calls do not find it. */
  account?: number;
}

export interface ContextOptions {
  dir: string;
  /**
   * The bearer tokens each account accepts: accounts[0] is the main account (its drives in `<dir>/<provider>`), every
   * other one has drives of its own in `<dir>/account-<n>/<provider>`. Several tokens of one account are one
   * account's rotated tokens: they see the same drives.
   */
  accounts: readonly (readonly string[])[];
  sink: boolean;
  memorylakePartSize?: number;
  coperaShape: CoperaShape;
  signer: UrlSigner;
  faults: FaultInjector;
  /** The sandbox's own origin, for URLs when a request has no Host header. */
  origin: () => string;
  /** Aborted when the sandbox closes: ends latency waits and stalls. */
  signal: AbortSignal;
}

export const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** S3's ETag of a multipart object: md5 of the concatenated binary part MD5s, dash, part count. */
export function multipartEtag(parts: readonly StoredPart[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(Buffer.from(p.etag, 'hex'));
  return `${h.digest('hex')}-${parts.length}`;
}

export class SandboxContext {
  readonly uploads = new Map<string, UploadSession>();
  readonly stats = new StatsRecorder();
  readonly scripts = new ScriptQueue();
  readonly holds = new HoldQueue();
  readonly parts: PartStore;
  readonly drive: Drive;
  /** The account this context acts for (see forAccount). */
  readonly account: number = 0;
  private readonly drives: Drive[];

  constructor(
    readonly opts: ContextOptions,
    partsRoot: string,
  ) {
    this.parts = new PartStore(partsRoot, opts.sink);
    this.drives = opts.accounts.map((_, n) => new Drive(n === 0 ? opts.dir : join(opts.dir, `account-${n}`)));
    this.drive = this.drives[0]!;
  }

  get signer(): UrlSigner {
    return this.opts.signer;
  }

  get faults(): FaultInjector {
    return this.opts.faults;
  }

  /** The account a request's bearer token belongs to; undefined when no account accepts it (401). */
  accountOf(req: IncomingMessage): number | undefined {
    const token = bearer(req);
    const n = this.opts.accounts.findIndex((tokens) => token !== undefined && tokens.includes(token));
    return n < 0 ? undefined : n;
  }

  /** This context as account `n` sees it: its own drive; sessions, parts, faults, stats and scripts are the sandbox's. */
  forAccount(n: number): SandboxContext {
    if (n === 0) return this;
    return Object.create(this, { drive: { value: this.drives[n] }, account: { value: n } }) as SandboxContext;
  }

  /** Where presigned URLs point: the origin the client used to reach us. */
  urlOrigin(req: IncomingMessage): string {
    const host = req.headers.host;
    return host && /^[\w.:[\]-]+$/.test(host) ? `http://${host}` : this.opts.origin();
  }

  /** Waits the configured latency (cut short when the sandbox closes). */
  async latency(): Promise<void> {
    const ms = this.faults.latencyMs;
    if (ms > 0 && !this.opts.signal.aborted) await sleep(ms, undefined, { signal: this.opts.signal }).catch(() => undefined);
  }

  /** Latency, then a JSON answer. */
  async replyJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): Promise<void> {
    await this.latency();
    send(res, status, { 'content-type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(body));
  }

  /** Latency, then any answer. */
  async reply(res: ServerResponse, status: number, headers: Headers, body?: string): Promise<void> {
    await this.latency();
    send(res, status, headers, body);
  }

  /** Creates a folder item's directory (not in sink mode, which writes nothing). */
  async mkdirFor(folder: DriveItem): Promise<void> {
    if (!this.opts.sink) await mkdir(this.drive.absPath(folder.provider, folder.relPath), { recursive: true });
  }

  /**
   * Assembles a session's parts (in the given order) into the finished file. `claim` runs once the bytes are ready
   * and returns where they go (it may throw, e.g. a name conflict: the session then stays open, parts kept).
   * Returns the absolute path written, or null in sink mode.
   */
  async assemble<T>(
    session: UploadSession,
    ordered: readonly StoredPart[],
    claim: () => { dest: string; value: T },
  ): Promise<{ path: string | null; value: T }> {
    session.state = 'finalizing';
    try {
      const tmp = await this.parts.assemble(session.id, ordered);
      let claimed: { dest: string; value: T };
      try {
        claimed = claim();
      } catch (err) {
        if (tmp) await rm(tmp, { force: true });
        throw err;
      }
      if (tmp) {
        await mkdir(dirname(claimed.dest), { recursive: true });
        await rename(tmp, claimed.dest);
      }
      await this.parts.discard(session.id);
      session.parts.clear();
      session.state = 'done';
      return { path: tmp ? claimed.dest : null, value: claimed.value };
    } catch (err) {
      if (session.state === 'finalizing') session.state = 'open';
      throw err;
    }
  }
}
