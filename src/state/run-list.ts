// The run journals in a state folder, summed up for `lakeup list`, `resume` and `abort`.
import fs from 'node:fs/promises';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import type { ProviderName } from '../types.js';
import type { JournalHeader, RunIdentity, RunOptions } from './journal-format.js';
import { RunJournal } from './journal.js';

/** Summaries of the run journals in a state folder, for `lakeup list` / `abort`. */
export interface RunSummary {
  key: string;
  file: string;
  provider?: ProviderName;
  endpoint?: string;
  parent?: string;
  shard?: string;
  options?: RunOptions;
  sources?: string[];
  cwd?: string;
  finished: number;
  finalizing: number;
  folders: number;
  updatedAt: number;
  invalid?: string;
}

export async function listRuns(dir: string): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LakeupError('state', `cannot read the state folder ${dir}: ${(err as Error).message}`);
  }
  const out: RunSummary[] = [];
  for (const name of names.sort()) {
    const m = /^([0-9a-f]{16})\.run\.ndjson$/.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    try {
      const [text, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
      const header = JSON.parse(text.slice(0, text.indexOf('\n'))) as Partial<JournalHeader>;
      if (header.kind !== 'lakeup-run' || !Array.isArray(header.sources)) throw new Error('no header');
      const r = await RunJournal.load(dir, header as RunIdentity, m[1]);
      if (r.status !== 'ok') {
        out.push({ key: m[1], file, finished: 0, finalizing: 0, folders: 0, updatedAt: st.mtimeMs, invalid: r.status === 'invalid' ? r.reason : 'missing' });
        continue;
      }
      const j = r.journal;
      out.push({
        key: m[1],
        file,
        provider: header.provider,
        endpoint: header.endpoint,
        parent: header.parent,
        shard: header.shard,
        options: header.options,
        sources: header.sources,
        cwd: header.cwd,
        finished: j.finished.size,
        finalizing: j.finalizing.size,
        folders: j.folders.size,
        updatedAt: st.mtimeMs,
      });
    } catch {
      out.push({ key: m[1], file, finished: 0, finalizing: 0, folders: 0, updatedAt: 0, invalid: 'it is not a run journal' });
    }
  }
  return out;
}
