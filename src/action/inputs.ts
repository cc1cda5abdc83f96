// The GitHub Action's inputs (action.yml) → the `lakeup put` command line, and the manifest's
// records → the action's outputs. No @actions/core here: main.ts hands the inputs over, so this
// stays a plain function the tests call.

/** Reads one input as the runner hands it over (`''` when not given). */
export type InputReader = (name: string) => string;

/** Inputs that are a flag with a value: `<input>` → `--<input> <value>`. */
const VALUE_INPUTS = [
  'endpoint',
  'parent',
  'on-conflict',
  'part-size',
  'mime-type',
  'concurrency',
  'jobs',
  'shard',
  'retries',
  'timeout',
  'limit-rate',
  'state-dir',
  'files-from',
  'progress-interval',
] as const;

/** Yes/no inputs that switch a flag on. */
const SWITCH_INPUTS = ['recursive', 'skip-existing', 'verbose'] as const;

/** Yes/no inputs, on by default, whose `false` is a `--no-…` flag. */
const DEFAULT_ON_INPUTS = { verify: '--no-verify', resume: '--no-resume', 'follow-symlinks': '--no-follow-symlinks' } as const;

export class InputError extends Error {}

/** `true`/`false` as YAML 1.2's core schema spells them (what actions/toolkit accepts); '' is unset. */
export function yesNo(read: InputReader, name: string): boolean | undefined {
  const v = read(name).trim();
  if (v === '') return undefined;
  if (['true', 'True', 'TRUE'].includes(v)) return true;
  if (['false', 'False', 'FALSE'].includes(v)) return false;
  throw new InputError(`input ${name}: expected true or false, got '${v}'`);
}

/** Lines of a multi-line input, trimmed, blank ones dropped. */
export function lines(read: InputReader, name: string): string[] {
  return read(name)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The `put` arguments for these inputs (the token goes by environment, never on the command line). */
export function putArgs(read: InputReader, manifest: string): string[] {
  const paths = lines(read, 'paths');
  const provider = read('provider').trim();
  if (paths.length === 0 && read('files-from').trim() === '') throw new InputError('input paths: name at least one file or folder (one a line)');
  if (provider === '') throw new InputError('input provider: memorylake or copera');
  const args = ['put', ...paths, '--provider', provider, '--manifest', manifest];
  for (const name of VALUE_INPUTS) {
    const v = read(name).trim();
    if (v !== '') args.push(`--${name}`, v);
  }
  for (const name of SWITCH_INPUTS) if (yesNo(read, name)) args.push(`--${name}`);
  for (const [name, flag] of Object.entries(DEFAULT_ON_INPUTS)) if (yesNo(read, name) === false) args.push(flag);
  for (const glob of lines(read, 'exclude')) args.push('--exclude', glob);
  for (const glob of lines(read, 'include')) args.push('--include', glob);
  return args;
}

export interface ActionOutputs {
  uploaded: number;
  /** Already in the drive (this run's journal or skip-existing) or left out (excluded, empty, links). */
  skipped: number;
  failed: number;
  /** The items in the drive (uploaded or already there): `undefined` past the limit (the manifest has them). */
  items?: Array<Record<string, unknown>>;
}

/** Counts a manifest's records and lists its items, when there are at most `itemsLimit`. */
export function outputsOf(manifest: string, itemsLimit: number): ActionOutputs {
  const out: ActionOutputs = { uploaded: 0, skipped: 0, failed: 0 };
  const items: Array<Record<string, unknown>> = [];
  for (const line of manifest.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r.status === 'uploaded') out.uploaded++;
    else if (r.status === 'failed') out.failed++;
    else out.skipped++;
    if (r.status === 'uploaded' || r.status === 'already-there') {
      items.push({ status: r.status, file: r.file, name: r.name, id: r.id, size: r.size, ...(r.etag ? { etag: r.etag } : {}) });
    }
  }
  if (items.length <= itemsLimit) out.items = items;
  return out;
}
