// Reading the drive items both providers answer lookups with, and the errors a lookup can end in.
import { LakeupError } from '../errors.js';
import type { DriveEntry } from './provider.js';

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A listing, item or search answer lakeup cannot read: one line naming the call and what is wrong. */
export function badResponse(service: string, what: string, why: string): LakeupError {
  return new LakeupError('server', `${service} answered ${what} with something lakeup cannot read: ${why}`, { code: 'BAD_RESPONSE' });
}

/** A lookup that saw too little to say an item is absent. */
export function incompleteLookup(service: string, name: string, folder: string, why: string): LakeupError {
  return new LakeupError('server', `${service} could not tell whether '${name}' is in ${folder}: ${why}`, { code: 'LOOKUP_INCOMPLETE' });
}

/** The fields every provider shares; `i` numbers the item in messages. */
export function entryBase(o: unknown, id: unknown, bad: (why: string) => LakeupError, i?: number): Pick<DriveEntry, 'id' | 'name'> {
  const which = i === undefined ? 'the item' : `item ${i + 1}`;
  if (!isRecord(o)) throw bad(`${which} is not an object`);
  if (typeof id !== 'string' || id === '') throw bad(`${which} has no id`);
  if (typeof o.name !== 'string' || o.name === '') throw bad(`${which} has no name`);
  return { id, name: o.name };
}

/** 'folder' for folders (Copera "folder", MemoryLake "directory"), 'file' for anything else. */
export function entryType(type: unknown): DriveEntry['type'] {
  return type === 'folder' || type === 'directory' ? 'folder' : 'file';
}

export function byteSize(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** An ISO date, or epoch seconds or ms, as epoch ms; undefined when unreadable. */
export function epochMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e11 ? v * 1000 : v;
  if (typeof v !== 'string' || v === '') return undefined;
  if (/^\d+$/.test(v)) return epochMs(Number(v));
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** Drops undefined fields so an entry compares and prints cleanly. */
export function compact(e: DriveEntry): DriveEntry {
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as DriveEntry;
}

/** The call's answer, or undefined when the provider says 404 (an unknown id). */
export async function unlessNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof LakeupError && e.status === 404) return undefined;
    throw e;
  }
}
