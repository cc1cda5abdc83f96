// What the sandbox saw, for tests and the benchmark (GET /_sandbox/stats).
import type { CreatedFolder, FaultKind, FinalizedFile, SandboxStats } from './types.js';

/** GET /_sandbox/counts: the counters of SandboxStats, the lists as their lengths. */
export interface StatsCounts {
  apiCalls: Record<string, number>;
  totalPartPuts: number;
  sessions: number;
  finalized: number;
  foldersCreated: number;
}

function bump(table: Record<string, Record<string, number>>, uploadId: string, n: string): void {
  const row = (table[uploadId] ??= {});
  row[n] = (row[n] ?? 0) + 1;
}

export class StatsRecorder {
  private readonly data: SandboxStats = {
    partPuts: {},
    partsStored: {},
    totalPartPuts: 0,
    apiCalls: {},
    rateLimited: 0,
    held: 0,
    bytesReceived: 0,
    sessions: 0,
    finalized: [],
    foldersCreated: [],
    faultsInjected: { fail: 0, reset: 0, throttle: 0, corrupt: 0, stall: 0 },
  };

  /** Counts body bytes; pass it as an `onBytes` callback. */
  readonly bytes = (n: number): void => {
    this.data.bytesReceived += n;
  };

  partPut(uploadId: string, n: string): void {
    bump(this.data.partPuts, uploadId, n);
    this.data.totalPartPuts++;
  }

  partStored(uploadId: string, n: number): void {
    bump(this.data.partsStored, uploadId, String(n));
  }

  api(route: string): void {
    this.data.apiCalls[route] = (this.data.apiCalls[route] ?? 0) + 1;
  }

  /** A 429 from the account-wide rate limit. */
  rateLimited(): void {
    this.data.rateLimited++;
  }

  held(): void {
    this.data.held++;
  }

  folderCreated(folder: CreatedFolder): void {
    this.data.foldersCreated.push(folder);
  }

  session(): void {
    this.data.sessions++;
  }

  fault(kind: FaultKind): void {
    this.data.faultsInjected[kind]++;
  }

  finalized(file: FinalizedFile): void {
    this.data.finalized.push(file);
  }

  /** A deep copy: callers may keep or mutate it. */
  snapshot(): SandboxStats {
    return structuredClone(this.data);
  }

  /**
   * The counters without the per-upload tables and lists: what a benchmark polls while a run of
   * 100,000 files goes (the whole snapshot is then ~14 MB of JSON, 1.6 s of the sandbox's time).
   */
  counts(): StatsCounts {
    const d = this.data;
    return { apiCalls: { ...d.apiCalls }, totalPartPuts: d.totalPartPuts, sessions: d.sessions, finalized: d.finalized.length, foldersCreated: d.foldersCreated.length };
  }
}
