// What a run leaves out and why: counted for the summary, said in notices (never in silence), and one
// JSON line per file with --json.
import type { LeftOutReason, LeftOutResult, ProviderName } from '../types.js';
import type { RunResults } from './run-observer.js';
import type { Source } from './sources.js';

export type { LeftOutReason } from '../types.js';

export type LeftOutCounts = Partial<Record<LeftOutReason, number>>;

/** A file left out: its source, why, and for a loop or a special file the words of its notice. */
export interface LeftOut {
  src: Source;
  reason: LeftOutReason;
  why?: string;
}

/**
 * What a run leaves out, told as the walk finds it: each file's JSON line (with --json) and the
 * notice of a loop or a special file at once; the notices that gather many files (empty files,
 * links not followed) once the walk is done, with a few names each. Holds counts and those few
 * names, never every file.
 */
export class LeftOutTally {
  readonly counts: LeftOutCounts = {};
  private readonly few: Partial<Record<LeftOutReason, string[]>> = {};

  constructor(
    private readonly provider: ProviderName,
    private readonly results: Pick<RunResults, 'leftOut'>,
    private readonly notice: (line: string) => void,
  ) {}

  add(l: LeftOut): void {
    this.counts[l.reason] = (this.counts[l.reason] ?? 0) + 1;
    this.results.leftOut(leftOutResult(this.provider, l.src, l.reason, l.reason === 'empty' ? 0 : undefined));
    if (l.why) this.notice(`${l.src.display}: ${l.why}`);
    const names = (this.few[l.reason] ??= []);
    if (names.length < 3) names.push(l.src.display);
  }

  /** The walk is done: the notices that gather many files. */
  finish(): void {
    const say = (r: LeftOutReason, words: (n: number) => string) => {
      const n = this.counts[r];
      const names = this.few[r];
      if (!n || !names) return;
      this.notice(`${words(n)}: ${names.join(', ')}${n > names.length ? `, … (${n - names.length} more)` : ''}`);
    };
    say('empty', (n) => `skipped ${n} empty file${n === 1 ? '' : 's'} (neither provider stores empty files)`);
    say('symlink', (n) => `skipped ${n} symbolic link${n === 1 ? '' : 's'} (--no-follow-symlinks)`);
  }
}

const LABELS: Record<Exclude<LeftOutReason, 'excluded'>, [string, string]> = {
  empty: ['empty', 'empty'],
  symlink: ['symlink', 'symlinks'],
  loop: ['link loop', 'link loops'],
  special: ['special file', 'special files'],
};

/** How many files of a run it is through with: sent, found, left out or failed. */
export function settled(o: { uploaded: number; skipped: number; existing: number; failed: number; leftOut: LeftOutCounts }): number {
  return o.uploaded + o.skipped + o.existing + o.failed + Object.values(o.leftOut).reduce((n, v) => n + (v ?? 0), 0);
}

/** The summary's words for them: `2 skipped (empty)`, `3 skipped (2 empty, 1 symlink)`, `2 excluded`. */
export function leftOutPhrases(c: LeftOutCounts): string[] {
  const skipped = (Object.keys(LABELS) as Array<keyof typeof LABELS>).filter((r) => c[r]);
  const out: string[] = [];
  if (skipped.length === 1) {
    const n = c[skipped[0]]!;
    out.push(`${n} skipped (${LABELS[skipped[0]][n === 1 ? 0 : 1]})`);
  } else if (skipped.length > 1) {
    const n = skipped.reduce((s, r) => s + c[r]!, 0);
    out.push(`${n} skipped (${skipped.map((r) => `${c[r]} ${LABELS[r][c[r] === 1 ? 0 : 1]}`).join(', ')})`);
  }
  if (c.excluded) out.push(`${c.excluded} excluded`);
  return out;
}

/** A left-out file's JSON line. */
export function leftOutResult(provider: ProviderName, src: Source, reason: LeftOutReason, size?: number): LeftOutResult {
  return { ok: true, skipped: true, reason, provider, file: src.display, name: src.name, size };
}
