// What every provider offers the orchestrator. A provider knows JSON shapes, not sockets.
import type { Destination, FileFingerprint, FinishedPart, ProviderName, Session, UploadedItem } from '../types.js';

export interface UploadRequest {
  file: FileFingerprint;
  dest: Destination;
  /** Copera: the part size the user asked for (grown so the count stays ≤ 10,000). */
  partSize?: number;
  /** MemoryLake: the x_attrs the item is created with (what makes the next comparison exact: same-content.ts). */
  attrs?: Record<string, string>;
}

/** What `--dry-run` shows without calling the API. */
export interface PlanPreview {
  partSize?: number;
  parts?: number;
  /** MemoryLake: the server decides the layout. */
  serverDecides: boolean;
  destination: string;
}

/** An item of the drive, the same for both providers. */
export interface DriveEntry {
  id: string;
  name: string;
  type: 'file' | 'folder';
  /** Bytes, when the provider says (MemoryLake folders say 0). */
  size?: number;
  /** MemoryLake only: the S3 ETag of the file, unquoted as the provider sends it. Copera exposes none. */
  etag?: string;
  /** MemoryLake only: the item's x_attrs (string map), when it has any. */
  xAttrs?: Record<string, string>;
  /** The folder holding the item; null for the root; undefined when the provider did not say. */
  parentId?: string | null;
  /** Epoch ms, by the server's clock. */
  createdAt?: number;
  /** Epoch ms, by the server's clock (an overwrite keeps the item's createdAt and moves this). */
  updatedAt?: number;
}

/** The direct children of one folder. */
export interface FolderListing {
  entries: DriveEntry[];
  /** False when the provider could not enumerate every child (Copera's 500-item cap, lakeup's page cap). */
  complete: boolean;
}

export interface LookupOptions {
  signal?: AbortSignal;
  /** MemoryLake: list at most this many pages of 50 (the listing is then incomplete). */
  maxPages?: number;
}

export interface CreateFolderOptions {
  /** What the server does when the name is taken: 'rename' (default) or 'deny' (409, a 'conflict' error). Copera ignores it. */
  onConflict?: 'rename' | 'deny';
}

export interface Provider {
  readonly name: ProviderName;
  /** Display name for messages. */
  readonly service: string;
  /** Whether createFolder with onConflict 'deny' refuses a taken name (MemoryLake), or may make a second folder (Copera). */
  readonly honoursDeny: boolean;
  /** How the drive's root is called in plans and messages (MemoryLake's id MY_SPACE, Copera's root). */
  readonly rootLabel: string;
  /** Whether expired URLs can be replaced within the same session (Copera) or need a new one (MemoryLake). */
  readonly canRefreshUrls: boolean;
  preview(req: UploadRequest): PlanPreview;
  createSession(req: UploadRequest): Promise<Session>;
  /** Fresh URLs for every part of the same session. Only when canRefreshUrls. */
  refreshUrls?(session: Session, req: UploadRequest): Promise<Pick<Session, 'urls' | 'urlsIssuedAt' | 'urlTtlMs'>>;
  finalize(session: Session, parts: FinishedPart[], req: UploadRequest): Promise<UploadedItem>;
  /** Creates a folder and returns its id (for --recursive). */
  createFolder?(name: string, parent: string | undefined, opts?: CreateFolderOptions): Promise<{ id: string; name: string }>;
  /** The direct children of a folder (undefined: the root), in the provider's order. */
  listFolder(parentId: string | undefined, opts?: LookupOptions): Promise<FolderListing>;
  /** One item by id; undefined when the provider answers 404. */
  getItem(id: string, opts?: LookupOptions): Promise<DriveEntry | undefined>;
  /**
   * Items of a folder named `name` or one of the provider's renamed forms of it (see names.ts),
   * from the listing, and for Copera from a search when the listing is incomplete. The entries
   * returned are certainly there; when none was found but lakeup could not see every candidate it
   * throws a 'server' LakeupError with code LOOKUP_INCOMPLETE rather than answer "none".
   */
  findInFolder(parentId: string | undefined, name: string, opts?: LookupOptions): Promise<DriveEntry[]>;
}
