// Result lines on stdout: one per file (JSON with --json, a line for humans otherwise), each said
// as its file ends. They leave through the progress view, so that on a terminal a line goes above
// the live bar, which redraws below it. Taps hear every outcome too (the --manifest file, the
// GitHub Actions job summary), whatever stdout shows.
import type { FailedResult, LeftOutResult, PutResult, SkippedResult } from '../types.js';
import { formatSize } from '../util/sizes.js';
import type { Terminal } from './terminal.js';

/** Hears each file's outcome as it is said. */
export interface ResultTap {
  uploaded(r: PutResult): void;
  skipped(r: SkippedResult): void;
  leftOut(r: LeftOutResult): void;
  failed(r: FailedResult): void;
}

export class ResultPrinter {
  constructor(
    private readonly term: Terminal,
    private readonly json: boolean,
    /** Writes one line to stdout (the progress view's `result`). */
    private readonly write: (line: string) => void,
    private readonly taps: readonly ResultTap[] = [],
  ) {}

  uploaded(r: PutResult): void {
    for (const t of this.taps) t.uploaded(r);
    this.write(this.json ? JSON.stringify(r) : uploadedLine(r, this.term));
  }

  skipped(r: SkippedResult): void {
    for (const t of this.taps) t.skipped(r);
    const c = this.term.chalk;
    const why = r.reason === 'exists' ? 'already in the drive' : 'already uploaded';
    this.write(this.json ? JSON.stringify(r) : `${c.green('✔')} ${r.file}: ${why} → ${r.name}${r.id ? ` (${r.id})` : ''}`);
  }

  /** A file the run left out: a JSON line with --json; for people, the run's notices and summary say it. */
  leftOut(r: LeftOutResult): void {
    for (const t of this.taps) t.leftOut(r);
    if (this.json) this.write(JSON.stringify(r));
  }

  /** A file failed: its lines are report.ts's; the taps hear of it here. */
  failed(r: FailedResult): void {
    for (const t of this.taps) t.failed(r);
  }

  /** Any other line for stdout (a JSON failure line), in order with the results. */
  line(text: string): void {
    this.write(text);
  }
}

function uploadedLine(r: PutResult, term: Terminal): string {
  const c = term.chalk;
  const secs = (r.elapsedMs / 1000).toFixed(1);
  const { what, rate } = sentWords(r);
  return `${c.green('✔')} ${r.file} → ${r.name} (${r.id}) ${what} in ${secs}s, ${formatSize(rate)}/s${
    r.resumed ? ', resumed' : ''
  }${r.recovered ? ', recovered' : ''}`;
}

/**
 * What a file's done line says was sent, and the speed: for a resumed file, what this run sent and
 * its speed (not one made of bytes an earlier run had sent).
 */
export function sentWords(r: PutResult): { what: string; rate: number } {
  const sent = r.resumed && r.resumedBytes ? r.size - r.resumedBytes : undefined;
  if (sent === undefined) return { what: formatSize(r.size), rate: r.bytesPerSecond };
  return { what: `${formatSize(sent)} of ${formatSize(r.size)} sent`, rate: Math.round(sent / Math.max(r.elapsedMs / 1000, 0.001)) };
}
