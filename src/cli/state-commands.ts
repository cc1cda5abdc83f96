// `lakeup list`, `lakeup resume`, `lakeup abort`: the pending uploads in the state folder. Each first clears what a
// killed lakeup left there (state/lock/sweep.ts), as put does: a run killed after its last step leaves only its dead run lock,
// with nothing to resume, so the next command in that folder may well be one of these.
import { LakeupError } from '../errors.js';
import { resolveStateDir } from '../state/location.js';
import fs from 'node:fs';
import path from 'node:path';
import { journalPath } from '../state/journal.js';
import { listRuns, type RunSummary } from '../state/run-list.js';
import { acquireLock, readLock, sweepStateDir, type Lock } from '../state/lock/index.js';
import { listStates, removeState, statePath, type StateFile } from '../state/state-file.js';
import { formatDuration } from '../ui/speed.js';
import { detectTerminal } from '../ui/terminal.js';
import { formatSize } from '../util/sizes.js';
import type { PutFlags } from './put-command.js';
import { reportError } from './report.js';
import { removeFileSync } from '../state/remove.js';
import { readLedger } from '../state/ledger.js';

export interface StateFlags {
  stateDir?: string;
  json?: boolean;
  all?: boolean;
}

interface Pending {
  id: string;
  file: string;
  provider: string;
  endpoint: string;
  name: string;
  size: number;
  doneBytes: number;
  percent: number;
  parts: number;
  doneParts: number;
  ageMs: number;
  /** A live lakeup holds its lock: it is being sent right now. */
  sending?: { pid?: number; host?: string };
  invalid?: string;
}

function pendingOf(id: string, s: StateFile): Pending {
  const doneBytes = s.done.reduce((n, p) => n + p.size, 0);
  return {
    id,
    file: s.file.path,
    provider: s.provider,
    endpoint: s.endpoint,
    name: s.dest.name,
    size: s.file.size,
    doneBytes,
    percent: Math.floor((doneBytes / s.file.size) * 1000) / 10,
    parts: s.session.parts.length,
    doneParts: s.done.length,
    ageMs: Date.now() - s.updatedAt,
  };
}

export async function runList(flags: StateFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const term = detectTerminal(env);
  try {
    const dir = resolveStateDir(flags.stateDir, env);
    await sweepStateDir(dir);
    const entries = listStates(dir);
    const rows: Pending[] = [];
    for (const e of entries) {
      const row = e.state ? pendingOf(e.id, e.state) : ({ id: e.id, invalid: e.invalid } as Pending);
      const lock = await readLock(dir, e.id); // the lock module's rule decides what is live
      if (lock?.live) row.sending = { pid: lock.owner?.pid, host: lock.why === 'other-host' ? lock.owner?.host : undefined };
      rows.push(row);
    }
    const runs = await listRuns(dir);
    const remembered = readLedger(dir).size;
    if (flags.json) {
      term.out(JSON.stringify({ ok: true, stateDir: dir, uploads: rows, runs: runs.map(runRow), remembered }));
      return 0;
    }
    // The ledger (state/ledger.ts): finished uploads a rerun skips without asking the drive.
    if (remembered > 0) term.err(`lakeup: ${remembered} finished upload${remembered === 1 ? '' : 's'} remembered (a rerun skips them unchanged; --again sends again)`);
    if (rows.length === 0 && runs.length === 0) {
      term.err(`lakeup: no pending uploads in ${dir}`);
      return 0;
    }
    // Two tables, each under its header: runs (a folder or several files), then single uploads.
    if (runs.length) {
      const table = runs.map((r) =>
        r.invalid
          ? [r.key, `(unusable journal: ${r.invalid})`]
          : [
              r.key,
              String(r.provider),
              `${r.finished} file(s) done${r.finalizing ? `, ${r.finalizing} finalizing` : ''}`,
              `${formatDuration(Date.now() - r.updatedAt)} ago`,
              (r.sources ?? []).join(' '),
            ],
      );
      for (const line of columns([['RUN', 'PROVIDER', 'DONE', 'UPDATED', 'SOURCES'], ...table])) term.out(line);
    }
    if (rows.length) {
      const table = rows.map((r) =>
        r.invalid
          ? [r.id, `(unusable state: ${r.invalid})`]
          : [r.id, r.provider, `${r.percent.toFixed(1)}%`, `${formatSize(r.doneBytes)}/${formatSize(r.size)}`, `${formatDuration(r.ageMs)} ago`, `${r.file}${sendingNote(r)}`],
      );
      for (const line of columns([['UPLOAD', 'PROVIDER', 'DONE', 'BYTES', 'UPDATED', 'FILE'], ...table])) term.out(line);
    }
    return 0;
  } catch (e) {
    return reportError(e, { json: Boolean(flags.json), verbose: false, err: term.err, out: term.out });
  }
}

function runRow(r: RunSummary) {
  return { id: r.key, kind: 'run', provider: r.provider, sources: r.sources, finished: r.finished, finalizing: r.finalizing, folders: r.folders, ageMs: Date.now() - r.updatedAt, invalid: r.invalid };
}

interface Target {
  id: string;
  state?: StateFile;
  /** A run's journal rather than one upload's state. */
  run?: RunSummary;
}

/** Rows of cells as lines, each column as wide as its widest cell (the last one unpadded), two spaces apart. */
function columns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
}

function sendingNote(r: Pending): string {
  if (!r.sending) return '';
  const { pid, host } = r.sending;
  return `  (being sent now${pid ? ` by pid ${pid}` : ''}${host ? ` on ${host}` : ''})`;
}

/** Whether a pending upload or run was started from `cwd` (an older state that did not say is not). */
function startedIn(t: Target, cwd: string): boolean {
  const from = t.run ? t.run.cwd : t.state?.cwd;
  if (from === undefined) return false;
  const a = path.resolve(from);
  const b = path.resolve(cwd);
  return process.platform === 'win32' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

async function selected(dir: string, id: string | undefined, all: boolean | undefined): Promise<Target[]> {
  if (!id && !all) throw new LakeupError('usage', 'name an upload id (see `lakeup list`) or pass --all');
  if (id && all) throw new LakeupError('usage', 'give an upload id or --all, not both');
  const entries: Target[] = [...listStates(dir), ...(await listRuns(dir)).map((r) => ({ id: r.key, run: r }))];
  if (all) return entries;
  const matches = entries.filter((e) => e.id.startsWith(id!));
  if (matches.length === 0) throw new LakeupError('usage', `no pending upload with id '${id}' in ${dir} (see \`lakeup list\`)`);
  if (matches.length > 1) throw new LakeupError('usage', `'${id}' matches several uploads; give more of the id`);
  return matches;
}

export async function runAbort(id: string | undefined, flags: StateFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const term = detectTerminal(env);
  try {
    const dir = resolveStateDir(flags.stateDir, env);
    await sweepStateDir(dir);
    const targets = await selected(dir, id, flags.all);
    const aborted: string[] = [];
    for (const t of targets) {
      // Holding the upload's lock while forgetting it: refused while a live lakeup sends it (the
      // lock module's rule), a stale lock is taken over, and no upload can start meanwhile. A run
      // takes its big files' locks too: one of them may be sent on its own right now (`lakeup
      // resume <id>`, a single put), without the run's lock.
      const what = t.run ? 'run' : 'upload';
      const files = t.run ? listStates(dir).filter((e) => e.state?.run?.key === t.id) : [];
      const locks: Lock[] = [];
      try {
        for (const lockId of [t.run ? `${t.id}-run` : t.id, ...files.map((e) => e.id)]) {
          try {
            locks.push(await acquireLock(dir, lockId, (l) => term.err(`lakeup: ${l}`)));
          } catch (e) {
            const err = e as LakeupError;
            if (err?.code !== 'LOCKED') throw e;
            const msg = lockId === `${t.id}-run` ? err.message.replace('uploading this file', 'running this upload') : err.message;
            throw new LakeupError('state', `cannot forget ${what} ${t.id}: ${msg}`, { code: 'LOCKED' });
          }
        }
        if (t.run) {
          removeFileSync(journalPath(dir, t.id));
          // Its big files' own states go with it: nothing would resume them as files of this run.
          for (const e of files) removeState(dir, e.id);
        } else removeState(dir, t.id);
      } finally {
        for (const l of locks) await l.releaseAsync();
      }
      aborted.push(t.id);
      if (!flags.json) {
        term.err(t.run ? `lakeup: forgot run ${t.id} (${(t.run.sources ?? []).join(' ')})` : `lakeup: forgot upload ${t.id}${t.state ? ` (${t.state.file.path})` : ''}`);
      }
    }
    if (flags.json) term.out(JSON.stringify({ ok: true, aborted }));
    return 0;
  } catch (e) {
    return reportError(e, { json: Boolean(flags.json), verbose: false, err: term.err, out: term.out });
  }
}

/**
 * The flags of `put` that go on with a run as its command said: where and how files land, and
 * the bandwidth it was held to (a flag or LAKEUP_LIMIT_RATE of the resume wins); the token and
 * other tuning come from the resume's own flags.
 */
export function replayedFlags(run: RunSummary, flags: PutFlags): PutFlags {
  const o = run.options ?? {};
  return {
    ...flags,
    provider: run.provider,
    endpoint: run.endpoint,
    parent: run.parent,
    shard: run.shard,
    recursive: o.recursive ?? false,
    skipExisting: o.skipExisting,
    again: o.again,
    checksum: o.checksum,
    onConflict: o.onConflict,
    mimeType: o.mimeType,
    partSize: o.partSize !== undefined ? String(o.partSize) : undefined,
    limitRate: flags.limitRate ?? recordedRate(o.limitRate),
    filters: o.filters ?? [],
    followSymlinks: !o.noFollowSymlinks,
    resume: true,
  };
}

/** A --limit-rate a journal or state recorded, as the flag; one that is no rate (edited by hand) is none. */
function recordedRate(bytesPerSecond: unknown): string | undefined {
  return Number.isSafeInteger(bytesPerSecond) && (bytesPerSecond as number) > 0 ? String(bytesPerSecond) : undefined;
}

/** The flags of `put` that go on with one file's upload as it was started (a --limit-rate of the resume wins). */
export function replayedStateFlags(s: StateFile, flags: PutFlags): PutFlags {
  return {
    ...flags,
    provider: s.provider,
    endpoint: s.endpoint,
    name: s.dest.name,
    parent: s.dest.parent,
    onConflict: s.dest.onConflict,
    mimeType: s.dest.mimeType,
    partSize: s.partSize !== undefined ? String(s.partSize) : undefined,
    limitRate: flags.limitRate ?? recordedRate(s.limitRate),
    resume: true,
  };
}

/** Resumes pending uploads with the settings they were started with; token and tuning come from flags/env. */
export async function runResume(
  id: string | undefined,
  flags: StateFlags & PutFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const term = detectTerminal(env);
  let targets: Target[];
  let dir: string;
  try {
    dir = resolveStateDir(flags.stateDir, env);
    await sweepStateDir(dir);
    if (id === undefined && !flags.all) {
      // What the interrupt message advises: the uploads and runs started from this folder.
      const pending = await selected(dir, undefined, true);
      targets = pending.filter((t) => startedIn(t, process.cwd()));
      if (pending.length === 0) {
        term.err(`lakeup: nothing to resume: no pending uploads in ${dir}`);
        return 0;
      }
      if (targets.length === 0) {
        const n = pending.length;
        throw new LakeupError(
          'usage',
          `no pending upload was started from ${process.cwd()}; ${n === 1 ? '1 was' : `${n} were`} started elsewhere: name ${n === 1 ? 'it' : 'one'} (see \`lakeup list\`) or pass --all`,
        );
      }
    } else targets = await selected(dir, id, flags.all);
  } catch (e) {
    return reportError(e, { json: Boolean(flags.json), verbose: false, err: term.err, out: term.out });
  }
  let code = 0;
  // Loaded here, not at the top: `list` and `abort` need no HTTP client.
  const { runPut } = await import('./put-command.js');
  const runs = new Set(targets.filter((t) => t.run).map((t) => t.id));
  // Runs first: each finishes its own files' uploads; then whatever is still pending on its own.
  targets.sort((a, b) => Number(Boolean(b.run)) - Number(Boolean(a.run)));
  for (const t of targets) {
    if (t.run && !t.run.invalid) {
      // A run goes on as the same command (with the options it was given): its journal skips what is done.
      const c = await runPut(t.run.sources ?? [], replayedFlags(t.run, flags), env);
      if (c === 130) return 130;
      if (c !== 0 && (code === 0 || c === 3)) code = c;
      continue;
    }
    // A state its run (resumed above) has dealt with, or finished meanwhile, is not sent again.
    if (t.state?.run && runs.has(t.state.run.key)) continue;
    if (t.state && !fs.existsSync(statePath(dir, t.id))) continue;
    if (!t.state) {
      term.err(`lakeup: skipping ${t.id}: its state is unusable`);
      code = code || 1;
      continue;
    }
    const s = t.state;
    const c = await runPut([s.file.path], replayedStateFlags(s, flags), env);
    if (c === 130) return 130;
    if (c !== 0 && (code === 0 || c === 3)) code = c;
  }
  return code;
}
