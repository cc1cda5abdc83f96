// Types of api-tap.mjs (plain JavaScript: scripts/soak.mjs runs it without a build).
import type { EventEmitter } from 'node:events';

export type Moment = 'session' | 'url-refresh' | 'finalize' | 'folder' | 'lookup' | 'part' | 'other';
export type Phase = 'waiting' | 'server-busy' | 'at-server' | 'held-before' | 'held-after' | 'answer-delayed';

export interface TapCall {
  id: number;
  moment: Moment;
  method: string;
  path: string;
  phase: Phase;
  clientGone: boolean;
  status?: number;
  startedAt: number;
  /** The file or folder name the call carries (MemoryLake name, Copera fileName), if any. */
  name?: string;
}

export interface ApiTap {
  origin: string;
  /** 'request', 'server-busy', 'answered', 'held', 'answer-delayed': each with the TapCall. */
  events: EventEmitter;
  counts(): Partial<Record<Moment, number>>;
  inflight(): TapCall[];
  hold(moment: Moment, when: 'before' | 'after', times?: number): void;
  slow(moment: Moment, s: { beforeMs?: number; afterMs?: number; until?: Promise<unknown> }): void;
  reset(): void;
  idle(): Promise<void>;
  close(): Promise<void>;
}

export declare function momentOf(method: string, pathname: string, body: unknown, presigned: Set<string>): Moment;
export declare function startApiTap(target: string): Promise<ApiTap>;
