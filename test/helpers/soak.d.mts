// Types of soak.mjs (plain JavaScript so that `node scripts/soak.mjs` runs it without a build).
import type { SandboxHandle, SandboxOptions } from '../../src/sandbox/server.js';

export declare const MOMENTS: readonly string[];

export interface SoakKill {
  killed: boolean;
  plan: string;
  moment?: string;
  detail?: string;
  atMs?: number;
  exit?: number | null;
}

export interface SoakRound {
  round: number;
  seed: number;
  provider: 'memorylake' | 'copera';
  files: number;
  runs: number;
  kills: SoakKill[];
  problems: string[];
  /** Things seen that are not failures (an empty second Copera folder, see README). */
  notes: string[];
  paused: boolean;
  ms: number;
  faults: Record<string, number>;
  args: string[];
}

export interface SoakSummary {
  seed: number;
  rounds: number;
  runs: number;
  kills: number;
  missed: number;
  killedComplete: number;
  killedDuring: Record<string, number>;
  details: Record<string, number>;
  plans: Record<string, number>;
  recovered: number;
  finalizedAgain: number;
  uploadedAgain: number;
  pausedRounds: number;
  lost: number;
  duplicated: number;
  corrupt: number;
  foldersTwice: number;
  strayFolders: number;
  leftovers: number;
  finalFailed: number;
  failures: SoakRound[];
  faults: Record<string, number>;
  calls: Record<string, number>;
  sessions?: number;
  elapsedMs: number;
}

export interface SoakOptions {
  rounds: number;
  seed: number;
  startSandbox: (opts: SandboxOptions) => Promise<SandboxHandle>;
  only?: number[];
  log?: (line: string) => void;
  keep?: boolean;
  onRound?: (r: SoakRound) => void;
}

export declare function prng(seed: number): {
  next(): number;
  int(lo: number, hi: number): number;
  between(lo: number, hi: number): number;
  chance(p: number): boolean;
  weighted<T>(pairs: Array<[T, number]>): T;
};
export declare function roundSeed(seed: number, r: number): number;
export declare function runSoak(o: SoakOptions): Promise<SoakSummary>;
export declare function formatSummary(s: SoakSummary): string;
