// What every provider offers the orchestrator. A provider knows JSON shapes, not sockets.
import type { Destination, FileFingerprint, FinishedPart, ProviderName, Session, UploadedItem } from '../types.js';

export interface UploadRequest {
  file: FileFingerprint;
  dest: Destination;
  /** Copera: the part size the user asked for (grown so the count stays ≤ 10,000). */
  partSize?: number;
}

/** What `--dry-run` shows without calling the API. */
export interface PlanPreview {
  partSize?: number;
  parts?: number;
  /** MemoryLake: the server decides the layout. */
  serverDecides: boolean;
  destination: string;
}

export interface Provider {
  readonly name: ProviderName;
  /** Display name for messages. */
  readonly service: string;
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
  createFolder?(name: string, parent: string | undefined): Promise<{ id: string; name: string }>;
}
