// Result lines on stdout: one per file (JSON with --json, a line for humans otherwise), and the
// run's summary on stderr. While a live bar redraws a terminal that is also stdout, results wait
// until the bar is gone, so that a redraw can never overwrite the end of one.
import type { PutResult, SkippedResult } from '../types.js';
import { formatSize } from '../util/sizes.js';
import type { Terminal } from './terminal.js';

export class ResultPrinter {
  private readonly deferred: string[] = [];

  constructor(
    private readonly term: Terminal,
    private readonly json: boolean,
    /** A live bar shares the terminal with stdout: hold results until `flush()`. */
    private defer: boolean,
  ) {}

  uploaded(r: PutResult): void {
    this.write(this.json ? JSON.stringify(r) : uploadedLine(r, this.term));
  }

  skipped(r: SkippedResult): void {
    const c = this.term.chalk;
    const why = r.reason === 'exists' ? 'already in the drive' : 'already uploaded';
    this.write(this.json ? JSON.stringify(r) : `${c.green('✔')} ${r.file}: ${why} → ${r.name}${r.id ? ` (${r.id})` : ''}`);
  }

  /** Any other line for stdout (a JSON failure line), in order with the results. */
  line(text: string): void {
    this.write(text);
  }

  /** Writes what was held back (after the bar stopped). */
  flush(): void {
    this.defer = false;
    for (const line of this.deferred.splice(0)) this.term.out(line);
  }

  private write(line: string): void {
    if (this.defer) this.deferred.push(line);
    else this.term.out(line);
  }
}

function uploadedLine(r: PutResult, term: Terminal): string {
  const c = term.chalk;
  const secs = (r.elapsedMs / 1000).toFixed(1);
  return `${c.green('✔')} ${r.file} → ${r.name} (${r.id}) ${formatSize(r.size)} in ${secs}s, ${formatSize(r.bytesPerSecond)}/s${
    r.resumed ? ', resumed' : ''
  }${r.recovered ? ', recovered' : ''}`;
}
