// What a run leaves out and why: counted for the summary, said in notices (never in silence), and one
// JSON line per file with --json.
import type { LeftOutReason, LeftOutResult, ProviderName } from '../types.js';
import type { ResultPrinter } from '../ui/results.js';
import type { Source } from './sources.js';

export type { LeftOutReason } from '../types.js';

export type LeftOutCounts = Partial<Record<LeftOutReason, number>>;

/** A file left out: its source, why, and for a loop or a special file the words of its notice. */
export interface LeftOut {
  src: Source;
  reason: LeftOutReason;
  why?: string;
}

/** Counts what a run left out, says it in notices and gives each file its JSON line (with --json). */
export function sayLeftOut(left: LeftOut[], provider: ProviderName, results: Pick<ResultPrinter, 'leftOut'>, notice: (line: string) => void): LeftOutCounts {
  const counts: LeftOutCounts = {};
  for (const l of left) {
    counts[l.reason] = (counts[l.reason] ?? 0) + 1;
    results.leftOut(leftOutResult(provider, l.src, l.reason, l.reason === 'empty' ? 0 : undefined));
  }
  for (const line of leftOutNotices(left)) notice(line);
  return counts;
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

/**
 * The notices for what was left out: one per loop and special file (each is a surprise worth its
 * line), one for all empty files and one for all links not followed (a tree may hold thousands), a
 * few names each. Excluded files are what was asked for: the summary counts them.
 */
export function leftOutNotices(left: LeftOut[]): string[] {
  const lines: string[] = [];
  for (const l of left) if (l.why) lines.push(`${l.src.display}: ${l.why}`);
  const few = (r: LeftOutReason, say: (n: number) => string) => {
    const of = left.filter((l) => l.reason === r);
    if (of.length === 0) return;
    const names = of.slice(0, 3).map((l) => l.src.display);
    lines.push(`${say(of.length)}: ${names.join(', ')}${of.length > names.length ? `, … (${of.length - names.length} more)` : ''}`);
  };
  few('empty', (n) => `skipped ${n} empty file${n === 1 ? '' : 's'} (neither provider stores empty files)`);
  few('symlink', (n) => `skipped ${n} symbolic link${n === 1 ? '' : 's'} (--no-follow-symlinks)`);
  return lines;
}

/** A left-out file's JSON line. */
export function leftOutResult(provider: ProviderName, src: Source, reason: LeftOutReason, size?: number): LeftOutResult {
  return { ok: true, skipped: true, reason, provider, file: src.display, name: src.name, size };
}
