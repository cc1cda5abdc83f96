// What a run will cost in API calls, and how long they take at the provider's documented rate
// limit: for many small files that limit, not the machine or the link, bounds a run — and it is
// per account, so machines sharing an account (--shard) share it too. The calls counted are those
// src/providers/* make (docs/providers.md); the limits are the providers' documented ones.
import type { ProviderName } from '../types.js';
import { formatDuration } from '../ui/speed.js';

interface CostModel {
  /** API calls to send one file (session and finalize; Copera asks for its part URLs apart). */
  perFile: number;
  /** API calls to find or make one drive folder of a --recursive run (its parent's listing, its creation). */
  perFolder: number;
  /** Items of a folder one listing call returns (--skip-existing pages through it). */
  listingPage: number;
  /** Documented calls a minute per account; undefined when the provider documents no number. */
  perMinute?: number;
  /** How the limit is said. */
  limitWords: string;
}

const MODELS: Record<ProviderName, CostModel> = {
  memorylake: { perFile: 2, perFolder: 2, listingPage: 50, perMinute: 600, limitWords: '600 calls a minute per account' },
  copera: { perFile: 3, perFolder: 3, listingPage: 500, limitWords: 'no documented number (the x-ratelimit-* headers say what is left)' },
};

/** Counts a run's files, bytes and drive folders as the dry run goes. */
export class CostTally {
  files = 0;
  bytes = 0;
  private readonly folders = new Set<string>();
  private filesInFolders = 0;
  private last: string | undefined;

  /** A file to send; `folder`: its drive folder path of a --recursive run. */
  add(size: number, folder?: string[]): void {
    this.files++;
    this.bytes += size;
    if (folder) {
      this.filesInFolders++;
      // One key per folder (a tree of a million files has a few thousand): the last one is most
      // often the same, so the set is asked once per folder, not once per file.
      const key = folder.join('/');
      if (key !== this.last) {
        this.last = key;
        for (let i = 1; i <= folder.length; i++) this.folders.add(folder.slice(0, i).join('/'));
      }
    }
  }

  /** API calls the run makes: per file, per folder, and with --skip-existing each folder's listing pages. */
  calls(provider: ProviderName, skipExisting: boolean): number {
    const m = MODELS[provider];
    const listing = skipExisting ? Math.ceil(this.filesInFolders / m.listingPage) + this.folders.size + (this.files > this.filesInFolders ? Math.ceil((this.files - this.filesInFolders) / m.listingPage) : 0) : 0;
    return this.files * m.perFile + this.folders.size * m.perFolder + listing;
  }

  /** `1,000,000 files, 32.5 MiB: about 2,000,012 API calls; at MemoryLake's limit (600 calls a minute per account) at least 55h33m, however many machines share the account`. */
  summary(provider: ProviderName, skipExisting: boolean, size: (n: number) => string): string {
    const m = MODELS[provider];
    const calls = this.calls(provider, skipExisting);
    const n = (x: number) => x.toLocaleString('en-US');
    const head = `${n(this.files)} file${this.files === 1 ? '' : 's'}, ${size(this.bytes)}: about ${n(calls)} API call${calls === 1 ? '' : 's'}`;
    const name = provider === 'memorylake' ? 'MemoryLake' : 'Copera';
    if (m.perMinute === undefined) return `${head}; ${name}'s rate limit: ${m.limitWords}`;
    const ms = (calls / m.perMinute) * 60_000;
    return `${head}; at ${name}'s limit (${m.limitWords}) at least ${formatDuration(ms)}, however many machines share the account`;
  }
}
