// `lakeup put`: flags → a checked plan → the dry run, or the run of its files; then the results,
// the summary and the exit code. Heavy modules (undici, cli-progress) load lazily from here, so
// --help and --version stay fast.
import { appendStepSummary, errorAnnotation, GithubTally } from '../ui/github.js';
import { createProgressView, onTrack } from '../ui/progress.js';
import { ManifestWriter } from '../ui/manifest.js';
import { runViews } from './run-views.js';
import { ResultPrinter, type ResultTap } from '../ui/results.js';
import { detectTerminal } from '../ui/terminal.js';
import { readFilesFrom } from '../upload/files-from.js';
import { leftOutPhrases, settled } from '../upload/left-out.js';
import type { RunOutcome } from '../upload/run.js';
import { Lookahead } from '../upload/scan-queue.js';
import { streamSources, type Source } from '../upload/sources.js';
import { envSaysYes } from './options.js';
import { buildPutPlan, type PutFlags, type PutPlan } from './put-plan.js';
import { failureOf, reportError } from './report.js';
import { GRACE_MS, watchInterrupts } from './signals.js';
import type { KeptParts } from '../upload/put-file.js';
import { formatSize } from '../util/sizes.js';

export type { PutFlags } from './put-plan.js';

export async function runPut(files: string[], flags: PutFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const term = detectTerminal(env);
  let plan: PutPlan;
  try {
    plan = buildPutPlan(files, flags, env, term);
  } catch (e) {
    return reportError(e, {
      json: Boolean(flags.json) || envSaysYes(env, 'LAKEUP_JSON'),
      verbose: Boolean(flags.verbose) || envSaysYes(env, 'LAKEUP_VERBOSE'),
      err: term.err,
      out: term.out,
    });
  }
  // Inside GitHub Actions a failure's line is an annotation (the log shows it; the run's page lists it).
  const gha = term.githubActions;
  const headline = (file?: string) => (gha ? (m: string) => term.err(errorAnnotation(m, file)) : undefined);
  const report = (e: unknown) => reportError(e, { json: plan.json, verbose: plan.verbose, err: term.err, out: term.out, headline: headline() });
  if (plan.filesFrom !== undefined) {
    try {
      plan = { ...plan, files: [...plan.files, ...(await readFilesFrom(plan.filesFrom, process.stdin))] };
    } catch (e) {
      return report(e);
    }
  }
  if (plan.dryRun) {
    const { runDryRun } = await import('./dry-run.js');
    return runDryRun(plan, term, report);
  }
  // The files are sent as the walk finds them; what is wrong with what was named (a FIFO, a folder
  // with no files or that cannot be listed) is said before anything is sent.
  let sources: Lookahead<Source>;
  try {
    sources = new Lookahead(await streamSources(plan));
    await sources.fill((h) => h.filter((s) => !s.leftOut).length > 1);
  } catch (e) {
    return report(e);
  }
  let manifest: ManifestWriter | undefined;
  try {
    manifest = plan.manifest ? new ManifestWriter(plan.manifest, term.err) : undefined;
  } catch (e) {
    return report(e);
  }
  if (plan.shard && sources.whole && (await sources.fill(() => true)).length === 0) {
    manifest?.close(); // an empty manifest: a later step reads this shard's share as nothing
    term.err(`lakeup: shard ${plan.shard.index}/${plan.shard.count} has no files of this run: nothing to do`);
    return 0;
  }

  const { runUploads } = await import('../upload/run.js');
  // Temp files, lock sources and dead locks an earlier lakeup left when it was killed mid-step.
  await (await import('../state/lock/index.js')).sweepStateDir(plan.stateDir);
  const openDir = (await import('../state/state-dir.js')).privateStateDir(plan.stateDir);
  const tally = gha && env.GITHUB_STEP_SUMMARY ? new GithubTally() : undefined;
  const taps: ResultTap[] = [tally, manifest].filter((t) => t !== undefined);
  const shown = await createProgressView(plan.progress, term, { intervalMs: plan.progressIntervalMs });
  const view = tally ? onTrack(shown, (events) => tally.listen(events)) : shown;
  if (openDir) view.notice(openDir);
  // The run says what it is finishing when the first Ctrl-C comes (it knows the parts in flight).
  const interrupts = watchInterrupts({
    onGraceOver: () => view.notice(`lakeup: parts still in flight after ${GRACE_MS / 1000} s: stopping them`),
    say: (line) => view.notice(line),
  });
  // Result lines go out as files end, through the view (above a live bar, which redraws below).
  const results = new ResultPrinter(term, plan.json, (l) => view.result(l), taps);
  let outcome;
  try {
    // While a bar is live, failure lines go above it (a redraw would erase a line written under
    // it), as their JSON lines and the results do.
    const live = plan.progress === 'bar';
    const reportFailure = (e: unknown, file?: string, said?: boolean) => {
      results.failed({ ok: false, file, error: failureOf(e) });
      // One annotation per failed file, even where a folder's failure was said once for all its files.
      const own = gha ? (m: string) => view.notice(errorAnnotation(m, file)) : undefined;
      return reportError(e, { json: plan.json, verbose: plan.verbose, file, err: said ? () => undefined : live ? (l) => view.notice(l) : term.err, out: (l) => results.line(l), headline: own });
    };
    outcome = await runUploads(plan, sources, {
      watch: runViews(view, results, plan.verbose),
      signal: interrupts.signal,
      abortNow: interrupts.abortNow,
      graceMs: GRACE_MS,
      stdin: process.stdin,
      reportFailure,
    });
  } finally {
    view.stop();
    interrupts.dispose();
    manifest?.close();
  }
  if (tally) appendStepSummary(env.GITHUB_STEP_SUMMARY!, tally.markdown(summaryLine(outcome), endingOf(outcome)), term.err);
  // A refused token stopped the run: its one line says what was left unsent (no summary beside it).
  if (outcome.stopped) return report(outcome.stopped);
  // A single file left out (`put a.log --exclude '*.log'`) is said too, never skipped in silence.
  if (outcome.total > 1 || Object.keys(outcome.leftOut).length > 0) term.err(`lakeup: ${summaryLine(outcome)}`);
  if (outcome.interrupted) {
    // `lakeup resume` finds what this folder started, in the state folder it is told of.
    const resume = flags.stateDir !== undefined ? `lakeup resume --state-dir ${quoteArg(plan.stateDir)}` : 'lakeup resume';
    term.err(`lakeup: ${interruptedLine(outcome.kept)} Run the same command again (or \`${resume}\`) to continue.`);
    if (plan.json) results.line(JSON.stringify({ ok: false, error: { kind: 'interrupted', message: 'interrupted' } }));
    return 130;
  }
  return outcome.failed > 0 ? outcome.exitCode || 1 : 0;
}

/** `505 files: 3 uploaded, 498 already in the drive, 2 skipped (empty), 2 excluded`: every file of the run, once. */
export function summaryLine(o: RunOutcome): string {
  const parts = [`${o.uploaded} uploaded`];
  if (o.skipped) parts.push(`${o.skipped} already uploaded`);
  if (o.existing) parts.push(`${o.existing} already in the drive`);
  parts.push(...leftOutPhrases(o.leftOut));
  if (o.failed) parts.push(`${o.failed} failed`);
  const left = o.total - settled(o);
  if (o.interrupted && left > 0) {
    // Cut off with parts kept (the rerun goes on from them), and not started at all.
    if (o.cutOff) parts.push(`${o.cutOff} cut off (parts kept)`);
    if (left > o.cutOff) parts.push(`${left - o.cutOff} not started`);
  }
  return `${o.total} file${o.total === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/** `interrupted: 14 of 30 parts saved (140 MiB of 300 MiB).`: what a rerun will not send again. */
export function interruptedLine(k: KeptParts): string {
  if (k.of === 0) return 'interrupted.';
  return `interrupted: ${k.parts} of ${k.of} parts saved (${formatSize(k.bytes)} of ${formatSize(k.total)}).`;
}

/** What the job summary says under its table when the run did not end by itself. */
function endingOf(o: RunOutcome): string | undefined {
  if (o.stopped) return `stopped: ${failureOf(o.stopped).message}`;
  if (o.interrupted) return `${interruptedLine(o.kept)} Run the job again to continue (cache the state folder to keep what was sent).`;
  return undefined;
}

/** A path as a shell takes it back: quoted when it holds anything but plain characters. */
function quoteArg(s: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(s) ? s : `"${s}"`;
}
