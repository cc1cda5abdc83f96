// `lakeup put --dry-run`: the plan of every file, without a token and without an API call. Every
// file that cannot be sent gets its own line; the exit code is the worst of them. Files are said as
// the walk finds them (nothing is held per file), then what the run costs: files, bytes, API calls
// and the time they take at the provider's rate limit (dry-run-cost.ts).
import { createProvider } from '../providers/index.js';
import type { Destination } from '../types.js';
import type { Terminal } from '../ui/terminal.js';
import type { LakeupError } from '../errors.js';
import { leftOutPhrases, type LeftOutCounts, type LeftOutReason } from '../upload/left-out.js';
import { inspectFile } from '../upload/local-file.js';
import type { PutPlan } from '../upload/plan.js';
import { streamSources, type Source } from '../upload/sources.js';
import { CostTally } from './dry-run-cost.js';
import { loadMimeLookup } from '../util/mime.js';
import { formatSize } from '../util/sizes.js';

export async function runDryRun(plan: PutPlan, term: Terminal, report: (e: unknown) => number): Promise<number> {
  const provider = createProvider(plan.provider, { endpoint: plan.endpoint, token: '' });
  let code = 0;
  let sources: AsyncIterable<Source>;
  try {
    sources = await streamSources(plan);
  } catch (e) {
    return report(e);
  }
  const mimeOf = plan.provider === 'copera' && plan.mimeType === undefined ? await loadMimeLookup() : undefined;
  const cost = new CostTally();
  let total = 0;
  const left: LeftOutCounts = {};
  let sendable = 0;
  let bad = 0;
  // What the run would leave out is said too, with its reason: excluded, empty, a link, a loop, a FIFO.
  const leave = (src: Source, reason: LeftOutReason, why?: string) => {
    left[reason] = (left[reason] ?? 0) + 1;
    if (plan.json) term.out(JSON.stringify({ dryRun: true, provider: plan.provider, file: src.display, skipped: reason }));
    else term.out(`${src.display}: ${why ?? (reason === 'excluded' ? 'excluded' : reason === 'symlink' ? 'a symbolic link: skipped (--no-follow-symlinks)' : 'skipped')}`);
  };
  try {
    for await (const src of sources) {
      total++;
      code = worst(code, sayOne(src));
    }
  } catch (e) {
    // The walk failed midway (a folder that cannot be listed).
    code = worst(code, report(e));
  }
  // The count of what the filters, links and empty files left out (as the run's summary says it).
  if (Object.keys(left).length > 0) {
    const parts = [`${sendable} to upload`, ...leftOutPhrases(left), ...(bad ? [`${bad} cannot be sent`] : [])];
    term.err(`lakeup: ${total} files: ${parts.join(', ')}`);
  }
  if (cost.files > 0) term.err(`lakeup: ${cost.summary(plan.provider, plan.skipExisting, formatSize)}`);
  return code;

  /** Says one file's plan; the exit code it calls for (0 when it can be sent). */
  function sayOne(src: Source): number {
    if (src.leftOut) {
      leave(src, src.leftOut.reason, src.leftOut.why);
      return 0;
    }
    try {
      const where = src.folder ? `${plan.parent ?? provider.rootLabel}/${src.folder.join('/')}/${src.name}` : undefined;
      if (src.file === '-') {
        sendable++;
        const out = { dryRun: true, provider: plan.provider, endpoint: plan.endpoint, file: '-', size: null, name: src.name };
        if (plan.json) term.out(JSON.stringify(out));
        else term.out(`-: standard input (size known once read) → ${plan.provider} ${src.name} at ${plan.endpoint}`);
        return 0;
      }
      let fp;
      try {
        fp = inspectFile(src.file);
      } catch (e) {
        if (src.root === undefined || (e as LakeupError).code !== 'EMPTY') throw e;
        leave(src, 'empty', 'empty: skipped (neither provider stores empty files)');
        return 0;
      }
      sendable++;
      cost.add(fp.size, src.folder);
      const dest: Destination = { name: src.name, parent: plan.parent, onConflict: plan.onConflict };
      const p = provider.preview({ file: fp, dest, partSize: plan.partSize });
      const destination = where ?? p.destination;
      const mimeType = plan.provider === 'copera' ? (plan.mimeType ?? mimeOf?.(src.name)) : undefined;
      const out = {
        dryRun: true,
        provider: plan.provider,
        endpoint: plan.endpoint,
        file: src.display,
        size: fp.size,
        name: dest.name,
        destination,
        partSize: p.serverDecides ? 'server decides' : p.partSize,
        parts: p.serverDecides ? 'server decides' : p.parts,
        mimeType,
        concurrency: plan.concurrency,
      };
      if (plan.json) term.out(JSON.stringify(out));
      else
        term.out(
          `${src.display}: ${formatSize(fp.size)} → ${plan.provider} ${destination} at ${plan.endpoint}; ` +
            (p.serverDecides ? 'part layout: server decides' : `${p.parts} ${p.parts === 1 ? 'part' : 'parts'} of ${formatSize(p.partSize!)}`) +
            `; concurrency ${plan.concurrency}`,
        );
      return 0;
    } catch (e) {
      // Every bad file is said, not only the first; the exit code is the worst (auth wins).
      bad++;
      return report(e);
    }
  }
}

/** The exit code that says most: the first failure's, unless a refused token (3) comes later. */
function worst(code: number, c: number): number {
  return code === 0 || c === 3 ? c || code : code;
}
