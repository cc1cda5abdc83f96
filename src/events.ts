// The one event stream of an upload. The engine and the orchestrator emit; the progress display,
// the state file and --verbose logging listen. Nothing that listens ever drives the upload.
import { EventEmitter } from 'node:events';
import type { FinishedPart, PutResult } from './types.js';

export interface UploadEventMap {
  /** A session is ready: `total` bytes in `parts` parts, `doneBytes` of them already finished (resume). */
  'session:ready': [{ uploadId: string; parts: number; total: number; doneBytes: number; resumed: boolean }];
  /** `bytes` more bytes of part `number` were handed to the socket. */
  'part:progress': [{ number: number; bytes: number }];
  'part:done': [FinishedPart & { attempt: number }];
  /** An attempt failed; `lostBytes` were counted as progress and must be taken back. */
  'part:retry': [{ number: number; attempt: number; reason: string; delayMs: number; lostBytes: number }];
  /** The server asked us to slow down: new parts pause for `pauseMs`, concurrency is now `concurrency`. */
  'throttle': [{ pauseMs: number; concurrency: number }];
  'urls:refreshed': [{ reason: string; parts: number }];
  'session:restart': [{ reason: string }];
  'api:call': [{ method: string; url: string; status?: number; ms: number; attempt: number; error?: string }];
  'part:http': [{ number: number; url: string; status?: number; ms: number; attempt: number; error?: string }];
  /** Every part is in: the upload is being finalized (the server assembles the file). */
  'upload:finalizing': [];
  'upload:done': [PutResult];
}

/**
 * Events are notifications: a listener that throws (a view's bug) is cut off from that one event
 * and never changes what is sent, saved or retried. What must not be lost is not a listener.
 */
export class UploadEvents extends EventEmitter<UploadEventMap> {
  override emit<K extends keyof UploadEventMap>(name: K, ...args: UploadEventMap[K]): boolean {
    const listeners = this.rawListeners(name as never) as Array<(...a: unknown[]) => unknown>;
    for (const l of listeners) {
      try {
        l.apply(this, args);
      } catch {
        /* an observer's failure is its own */
      }
    }
    return listeners.length > 0;
  }
}
