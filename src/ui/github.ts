// Inside GitHub Actions (GITHUB_ACTIONS=true): one `::error` annotation per failed file, and a
// Markdown table of the run appended to $GITHUB_STEP_SUMMARY when it ends. Everything here is
// text a server or a file name may have shaped: annotations leave through the redacting writers
// (streams.ts), the summary is redacted and escaped here.
import fs from 'node:fs';
import type { UploadEvents } from '../events.js';
import type { FailedResult, LeftOutResult, PutResult, SkippedResult } from '../types.js';
import { formatSize } from '../util/sizes.js';
import type { ResultTap } from './results.js';
import { formatDuration } from './speed.js';
import { safeText } from './streams.js';

/** Failed files listed one a row in the summary; past it, a count (the log and --manifest have them all). */
export const SUMMARY_MAX_FAILED = 50;

/** A workflow command's message: `%`, CR and LF escaped, so a reason cannot end the command or start another. */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A workflow command's property value: as escapeData, and `:` and `,` too. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** `::error title=lakeup::a.bin: no such file`: the failure line as an annotation (the message says the file when it is one of a run). */
export function errorAnnotation(message: string, file?: string): string {
  const text = file !== undefined && !message.startsWith(`${file}:`) ? `${file}: ${message}` : message;
  return `::error title=${escapeProperty('lakeup')}::${escapeData(text)}`;
}

/** Counts what the job summary tells, as the run goes. */
export class GithubTally implements ResultTap {
  uploadedCount = 0;
  bytes = 0;
  alreadyThere = 0;
  leftOutCount = 0;
  retries = 0;
  failedCount = 0;
  readonly failures: FailedResult[] = [];
  private readonly started = performance.now();

  /** Hears a file's part retries (progress.ts onTrack). */
  listen(events: UploadEvents): void {
    events.on('part:retry', () => this.retries++);
  }

  uploaded(r: PutResult): void {
    this.uploadedCount++;
    this.bytes += r.size;
  }
  skipped(_r: SkippedResult): void {
    this.alreadyThere++;
  }
  leftOut(_r: LeftOutResult): void {
    this.leftOutCount++;
  }
  failed(r: FailedResult): void {
    this.failedCount++;
    if (this.failures.length < SUMMARY_MAX_FAILED) this.failures.push(r);
  }

  /** The summary's Markdown: a heading, the table, the failed files with their reasons. */
  markdown(headline: string, ending?: string, now = performance.now()): string {
    const ms = now - this.started;
    const speed = ms > 0 ? Math.round(this.bytes / (ms / 1000)) : 0;
    const lines = [
      `### lakeup: ${md(headline)}`,
      '',
      '| Uploaded | Bytes | Time | Speed | Retries | Already there | Skipped | Failed |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${this.uploadedCount} | ${formatSize(this.bytes)} | ${ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms)} | ${formatSize(speed)}/s | ${this.retries} | ${this.alreadyThere} | ${this.leftOutCount} | ${this.failedCount} |`,
    ];
    if (ending) lines.push('', `**${md(ending)}**`);
    if (this.failures.length > 0) {
      lines.push('', '| Failed file | Reason |', '|---|---|');
      for (const f of this.failures) lines.push(`| ${md(f.file ?? '(the run)')} | ${md(reasonOf(f))} |`);
      const more = this.failedCount - this.failures.length;
      if (more > 0) lines.push('', `… and ${more} more failed file${more === 1 ? '' : 's'} (the log and \`--manifest\` list them all).`);
    }
    return `${lines.join('\n')}\n\n`;
  }
}

/** A failure's message without the file's name it starts with (the row names the file). */
function reasonOf(f: FailedResult): string {
  const m = f.error.message;
  return f.file !== undefined && m.startsWith(`${f.file}: `) ? m.slice(f.file.length + 2) : m;
}

/** Text for a Markdown table cell: redacted, control characters escaped, Markdown's own characters made literal. */
function md(s: string): string {
  return safeText(s)
    .replace(/[\\`*_[\]#|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Appends the summary to $GITHUB_STEP_SUMMARY; a summary that cannot be written is a notice, never a failed run. */
export function appendStepSummary(file: string, markdown: string, notice: (line: string) => void): void {
  try {
    fs.appendFileSync(file, markdown);
  } catch (e) {
    notice(`lakeup: cannot write the job summary (${(e as NodeJS.ErrnoException).code ?? 'error'}): the log has the results`);
  }
}
