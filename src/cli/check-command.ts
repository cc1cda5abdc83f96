// `lakeup check <paths…> -p <provider> [-r]`: is every file that `put` with the same arguments would
// send in the drive, and the same? Missing and different files get a line (every file a JSON line
// with --json), the run a summary; exit 0 when all are there, 1 when not (2 bad input, 3 token).
// It looks and never writes: no folder is made, no state is kept.
import { LakeupError, toLakeupError } from '../errors.js';
import { createDispatcher } from '../http/dispatcher.js';
import { createProvider } from '../providers/index.js';
import { detectTerminal } from '../ui/terminal.js';
import { compareWithDrive } from '../upload/check.js';
import { DriveIndex, isUnknown } from '../upload/drive-index.js';
import { inspectFile } from '../upload/local-file.js';
import { streamSources, type Source } from '../upload/sources.js';
import { envSaysYes } from './options.js';
import { buildPutPlan, type PutFlags, type PutPlan } from './put-plan.js';
import { failureOf, reportError } from './report.js';

export type CheckFlags = Pick<PutFlags, 'provider' | 'token' | 'tokenFile' | 'endpoint' | 'parent' | 'recursive' | 'filters' | 'followSymlinks' | 'json' | 'verbose'>;

interface Line {
  file: string;
  name: string;
  status: 'same' | 'missing' | 'different' | 'unknown';
  size: number;
  id?: string;
  why: string;
}

export async function runCheck(files: string[], flags: CheckFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const term = detectTerminal(env);
  const json = Boolean(flags.json) || envSaysYes(env, 'LAKEUP_JSON');
  const report = (e: unknown, file?: string) => reportError(e, { json, verbose: Boolean(flags.verbose), file, err: term.err, out: term.out });
  // A failure whose line was said already: its JSON line (with --json) and its exit code only.
  const reportAgain = (e: unknown, file: string) => reportError(e, { json, verbose: false, file, err: () => undefined, out: term.out });
  let plan: PutPlan;
  let sources: Source[];
  try {
    plan = buildPutPlan(files, { ...flags, json, progress: 'none' }, env, term);
    if (files.includes('-')) throw new LakeupError('usage', 'check: standard input ("-") cannot be checked');
    sources = [];
    for await (const s of await streamSources(plan)) if (!s.leftOut) sources.push(s);
  } catch (e) {
    return report(e);
  }
  const dispatcher = createDispatcher({ connections: 8 });
  const index = new DriveIndex(createProvider(plan.provider, { endpoint: plan.endpoint, token: plan.token, dispatcher }));
  const folders = new Map<string, Promise<string | undefined | null>>();
  /** The drive id of a folder of the tree, null when the drive has no such folder. */
  const folderId = (segments: string[]): Promise<string | undefined | null> => {
    if (segments.length === 0) return Promise.resolve(plan.parent);
    const key = JSON.stringify(segments);
    let id = folders.get(key);
    if (!id) {
      id = folderId(segments.slice(0, -1)).then(async (parent) => (parent === null ? null : ((await index.findFolder(parent, segments[segments.length - 1]))?.id ?? null)));
      folders.set(key, id);
    }
    return id;
  };

  const counts = { same: 0, missing: 0, different: 0, unknown: 0, empty: 0, failed: 0 };
  let code = 0;
  // One cause is said once: a refused token stops the check (one line for all), and a failure
  // whose words are those of an earlier one (a folder that cannot be listed, an API out of reach)
  // gets no second line on stderr; with --json every file still gets its record.
  let refused: unknown;
  const said = new Set<string>();
  const one = async (src: Source): Promise<void> => {
    const fp = inspectFile(src.file, { verb: 'check' });
    const parent = await folderId(src.folder ?? []);
    const named = parent === null ? [] : await index.named(parent, src.name);
    const c = isUnknown(named) ? { status: 'unknown' as const, why: 'the drive cannot tell (its folder listing is incomplete)' } : await compareWithDrive(plan.provider, fp, named);
    const line: Line = { file: src.display, name: src.name, status: c.status, size: fp.size, why: c.why, ...('entry' in c && c.entry ? { id: c.entry.id } : {}) };
    counts[line.status]++;
    if (json) term.out(JSON.stringify(line));
    else if (line.status !== 'same') term.out(`✘ ${line.file}: ${line.why}`);
  };
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(8, sources.length) }, async () => {
        while (next < sources.length && refused === undefined) {
          const src = sources[next++];
          try {
            await one(src);
          } catch (e) {
            // An empty file inside a folder is one `put` skips (neither drive stores it): nothing to check.
            if (src.root !== undefined && (e as LakeupError).code === 'EMPTY') {
              counts.empty++;
              continue;
            }
            counts.failed++;
            const { kind, message } = failureOf(e);
            if (kind === 'auth') {
              refused ??= e;
              continue;
            }
            // A local file that cannot be read, a folder that cannot be listed: its line, and the worst code.
            code = Math.max(code, said.has(message) ? reportAgain(e, src.display) : report(e, src.display));
            said.add(message);
          }
        }
      }),
    );
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
  if (refused !== undefined) {
    const notChecked = sources.length - counts.same - counts.missing - counts.different - counts.unknown - counts.empty;
    const e = toLakeupError(refused);
    return report(new LakeupError(e.kind, `${e.message}; the check stopped: ${notChecked} of ${sources.length} files not checked`, { status: e.status, code: e.code }));
  }
  const bad = counts.missing + counts.different + counts.unknown;
  const phrases = [
    `${counts.same} in the drive`,
    counts.missing && `${counts.missing} missing`,
    counts.different && `${counts.different} different`,
    counts.unknown && `${counts.unknown} unknown`,
    counts.empty && `${counts.empty} skipped (empty)`,
    counts.failed && `${counts.failed} could not be checked`,
  ].filter(Boolean);
  term.err(`lakeup: check: ${sources.length} file${sources.length === 1 ? '' : 's'}: ${phrases.join(', ')}`);
  return code || (bad > 0 ? 1 : 0);
}
