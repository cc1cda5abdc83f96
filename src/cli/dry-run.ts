// `lakeup put --dry-run`: the plan of every file, without a token and without an API call. Every
// file that cannot be sent gets its own line; the exit code is the worst of them.
import { createProvider } from '../providers/index.js';
import type { Destination } from '../types.js';
import type { Terminal } from '../ui/terminal.js';
import { inspectFile } from '../upload/local-file.js';
import type { PutPlan } from '../upload/plan.js';
import { expandSources, selectShard, type Source } from '../upload/sources.js';
import { lookupMimeType } from '../util/mime.js';
import { formatSize } from '../util/sizes.js';

export async function runDryRun(plan: PutPlan, term: Terminal, report: (e: unknown) => number): Promise<number> {
  const provider = createProvider(plan.provider, { endpoint: plan.endpoint, token: '' });
  let code = 0;
  let sources: Source[];
  try {
    sources = selectShard(await expandSources(plan), plan.shard);
  } catch (e) {
    return report(e);
  }
  for (const src of sources) {
    try {
      const where = src.folder ? `${plan.parent ?? provider.rootLabel}/${src.folder.join('/')}/${src.name}` : undefined;
      if (src.file === '-') {
        const out = { dryRun: true, provider: plan.provider, endpoint: plan.endpoint, file: '-', size: null, name: src.name };
        if (plan.json) term.out(JSON.stringify(out));
        else term.out(`-: standard input (size known once read) → ${plan.provider} ${src.name} at ${plan.endpoint}`);
        continue;
      }
      const fp = inspectFile(src.file);
      const dest: Destination = { name: src.name, parent: plan.parent, onConflict: plan.onConflict };
      const p = provider.preview({ file: fp, dest, partSize: plan.partSize });
      const destination = where ?? p.destination;
      const mimeType = plan.provider === 'copera' ? (plan.mimeType ?? lookupMimeType(src.name)) : undefined;
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
    } catch (e) {
      // Every bad file is said, not only the first; the exit code is the worst (auth wins).
      const c = report(e);
      if (code === 0 || c === 3) code = c;
    }
  }
  return code;
}
