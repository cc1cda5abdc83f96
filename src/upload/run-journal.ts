// Which journal is this run's. Its key is what the command names (provider, endpoint, --parent, --shard, the
// sources), not the token: tokens expire and are rotated (in CI all the time), and the same command with a new token
// of the same account must find the run it continues, or every finished file would be sent again (a `_1` copy each
// with the default `rename`). The account is judged apart from the key: a journal is this token's when the token
// started it or was proved since (its `acct` records), or when the token sees an item the journal recorded (a file
// it put in the drive, a folder it used): items of one account are not visible to another. A journal no item of
// which the token sees belongs to another account: this run takes a slot of its own (the same key with a slot
// number), and the other account's journal stays for it. Two accounts' runs never share a journal.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import type { Provider } from '../providers/index.js';
import { journalPath, legacyRunKey, runKey, RunJournal, setJournalAside, type RunIdentity } from '../state/journal.js';
import { acquireLock, type Lock } from '../state/lock/index.js';
import { removeFile } from '../state/remove.js';
import type { PutPlan } from './plan.js';

/** Accounts whose runs of one command can be pending side by side. */
const SLOTS = 8;
/** Items of a journal looked up to prove an account: a few, in case some were deleted since. */
const PROOFS = 3;

/** The token as a journal keeps it: a short hash, never the token. */
export function accountOf(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}

export function runIdentity(plan: PutPlan): RunIdentity {
  return {
    provider: plan.provider,
    endpoint: plan.endpoint,
    parent: plan.parent,
    sources: plan.files.filter((f) => f !== '-').map((f) => path.resolve(f)),
    shard: plan.shard ? `${plan.shard.index}/${plan.shard.count}` : undefined,
    account: accountOf(plan.token),
    cwd: process.cwd(),
    options: {
      recursive: plan.recursive || undefined,
      skipExisting: plan.skipExisting || undefined,
      again: plan.again || undefined,
      checksum: plan.checksum || undefined,
      onConflict: plan.onConflict,
      mimeType: plan.mimeType,
      partSize: plan.partSize,
      filters: plan.filters.length ? plan.filters : undefined,
      noFollowSymlinks: !plan.followSymlinks || undefined,
      limitRate: plan.limitRate,
    },
  };
}

/** The run's journal (resumed, or new), under the run's lock: one process drives a run at a time. */
export async function openJournal(
  plan: PutPlan,
  notice: (line: string) => void,
  lookups: () => Provider,
  signal?: AbortSignal,
): Promise<{ journal: RunJournal; lock: Lock }> {
  const identity = runIdentity(plan);
  const account = identity.account!;
  const dir = plan.stateDir;
  // Written by an older lakeup, which put a hash of the token in the key: only this very token finds it.
  const legacy = legacyRunKey(identity);
  if (await exists(journalPath(dir, legacy))) return open(plan, identity, legacy, notice, signal);
  let free: string | undefined;
  for (let slot = 0; slot < SLOTS; slot++) {
    const key = runKey(identity, slot);
    if (!(await exists(journalPath(dir, key)))) {
      free ??= key;
      continue;
    }
    const loaded = await RunJournal.load(dir, identity, key);
    if (loaded.status !== 'ok') {
      free ??= key; // unusable (set aside when opened) or gone meanwhile
      continue;
    }
    const j = loaded.journal;
    if (j.accounts.has(account)) return open(plan, identity, key, notice, signal);
    const seen = await seesAnyOf(lookups(), j.knownItems(PROOFS));
    if (seen) {
      const opened = await open(plan, identity, key, notice, signal);
      // The next run with this token needs no lookup.
      if (opened.journal.resumed) await opened.journal.addAccount(account).catch(() => undefined);
      notice(`the run was started with another token of the same account (it sees item ${seen}): resuming it`);
      return opened;
    }
    if (plan.resume) notice(`a run of this command for another account is pending (${j.file}): this account's run is a separate one`);
  }
  if (free === undefined) {
    throw new LakeupError('state', `${SLOTS} accounts' runs of this command are pending in ${dir}; finish or \`lakeup abort\` one of them (see \`lakeup list\`)`, {
      code: 'RUN_SLOTS',
    });
  }
  return open(plan, identity, free, notice, signal);
}

/** The id of the first of `ids` the token can see; undefined when it sees none (not found, or not its own). */
async function seesAnyOf(provider: Provider, ids: string[]): Promise<string | undefined> {
  for (const id of ids) {
    try {
      if (await provider.getItem(id)) return id;
    } catch (e) {
      if ((e as LakeupError)?.status !== 403) throw e; // 403: another account's item; anything else says nothing
    }
  }
  return undefined;
}

/** Locks the run `key` and reads its journal (or starts a fresh one there). */
async function open(plan: PutPlan, identity: RunIdentity, key: string, notice: (line: string) => void, signal?: AbortSignal): Promise<{ journal: RunJournal; lock: Lock }> {
  const fresh = RunJournal.create(plan.stateDir, identity, key);
  let lock: Lock;
  try {
    lock = await acquireLock(plan.stateDir, `${key}-run`, notice, signal);
  } catch (e) {
    const err = e as LakeupError;
    if (err.code !== 'LOCKED') throw e;
    throw new LakeupError('state', err.message.replace('uploading this file', 'running this upload'), { code: 'LOCKED' });
  }
  try {
    if (!plan.resume) {
      await removeFile(fresh.file);
      return { journal: fresh, lock };
    }
    const loaded = await RunJournal.load(plan.stateDir, identity, key);
    if (loaded.status === 'ok') {
      if (loaded.damaged > 0) notice(`${loaded.damaged} unreadable line(s) of the run journal ${loaded.journal.file} were skipped`);
      // Superseded records of the attempts before (a `fin` per finished file) are dropped: the next replay is shorter.
      await loaded.journal.compactIfWorth().catch(() => false);
      return { journal: loaded.journal, lock };
    }
    if (loaded.status === 'invalid') {
      const aside = await setJournalAside(loaded.file);
      notice(`ignoring the journal of an earlier run because ${loaded.reason} (moved to ${aside}); files it recorded are uploaded again`);
    }
    return { journal: fresh, lock };
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
