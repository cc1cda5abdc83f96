// The files of a --recursive folder: depth first, sorted per folder (so runs and shards are the same
// on every machine), with what is left out kept as such (an --exclude, a link not followed, a loop,
// a FIFO), so that the run can say so and count it instead of skipping it in silence.
//
// Symbolic links are followed by default (a Hugging Face cache snapshot, a DVC or git-annex tree is
// all links), as `aws s3 cp` does; with --no-follow-symlinks they are left out and counted. A link
// back to a folder the walk is inside (same device and inode) is a loop: left out, said once. A link
// whose target is missing is kept as a file, whose upload fails ("its target is missing"). Types
// come from readdir (Node lstat's entries the file system does not type); a link is resolved with
// stat, which follows it. On Windows, junctions count as links, and inodes are compared as bigints
// (NTFS file ids do not fit a double).
import fs from 'node:fs/promises';
import type { BigIntStats, Stats } from 'node:fs';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import type { FileFilter } from './filters.js';
import { specialKind } from './local-file.js';
import type { Source } from './sources.js';

export interface WalkOptions {
  followSymlinks: boolean;
  filter?: FileFilter;
}

/** Every file under `root`, with what is left out marked (`leftOut`). */
export async function walkFolder(root: string, opts: WalkOptions = { followSymlinks: true }): Promise<Source[]> {
  const out: Source[] = [];
  for await (const src of walkSources(root, opts)) out.push(src);
  return out;
}

/**
 * The files under `root` as the walk finds them, in the same order (depth first, sorted per
 * folder): a run sends the first while the rest of the tree is still being read. Only the
 * listings of the folders the walk is inside are held, each released once its folder is done.
 */
export async function* walkSources(root: string, opts: WalkOptions = { followSymlinks: true }): AsyncGenerator<Source> {
  const top = path.basename(path.resolve(root));
  const list = async (dir: string): Promise<import('node:fs').Dirent[]> => {
    try {
      const entries = await fs.readdir(dir, { withFileTypes: true });
      return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (err) {
      throw new LakeupError('input', `${dir}: cannot list it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  // Inside an excluded folder every entry is counted as excluded; nothing is followed or said there,
  // and a folder that cannot be listed (`--exclude lost+found`) counts as one.
  const countExcluded = async function* (dir: string, rel: string[]): AsyncGenerator<Source> {
    const entries = await list(dir).catch(() => undefined);
    if (!entries) {
      yield { file: dir, display: dir, name: rel[rel.length - 1], folder: [top, ...rel.slice(0, -1)], root, leftOut: { reason: 'excluded' } };
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) yield* countExcluded(p, [...rel, e.name]);
      else yield { file: p, display: p, name: e.name, folder: [top, ...rel], root, leftOut: { reason: 'excluded' } };
    }
  };
  /** `inside`: the folders the walk is in (device:inode → path), to tell a loop. */
  const visit = async function* (dir: string, rel: string[], inside: Map<string, string>): AsyncGenerator<Source> {
    // One folder array for all its files (not a copy each).
    const folder = [top, ...rel];
    for (const e of await list(dir)) {
      const p = path.join(dir, e.name);
      const relPath = rel.length ? `${rel.join('/')}/${e.name}` : e.name;
      const src: Source = { file: p, display: p, name: e.name, folder, root };
      let st: Stats | undefined;
      if (e.isSymbolicLink()) {
        if (!opts.followSymlinks) {
          yield { ...src, leftOut: opts.filter?.active && !opts.filter.sends(relPath) ? { reason: 'excluded' } : { reason: 'symlink' } };
          continue;
        }
        st = await fs.stat(p).catch(() => undefined);
      }
      const isDir = st ? st.isDirectory() : e.isDirectory();
      if (isDir) {
        if (opts.filter?.prunes(relPath)) {
          if (st) yield { ...src, leftOut: { reason: 'excluded' } }; // a link to a folder: not followed, one entry
          else yield* countExcluded(p, [...rel, e.name]);
          continue;
        }
        const id = await dirId(p);
        const loop = id !== undefined ? inside.get(id) : undefined;
        if (loop !== undefined) {
          yield { ...src, leftOut: { reason: 'loop', why: `a link back to ${loop} (a loop): not followed` } };
          continue;
        }
        yield* visit(p, [...rel, e.name], id !== undefined ? new Map(inside).set(id, p) : inside);
        continue;
      }
      if (opts.filter?.active && !opts.filter.sends(relPath)) yield { ...src, leftOut: { reason: 'excluded' } };
      else if (e.isSymbolicLink() && !st) yield src; // a missing target: its upload says so
      else if (st ? st.isFile() : e.isFile()) yield src;
      else yield { ...src, leftOut: { reason: 'special', why: `${specialKind(st ?? e)}: skipped` } };
    }
  };
  const rootId = await dirId(root);
  yield* visit(root, [], rootId !== undefined ? new Map([[rootId, root]]) : new Map());
}

/** A folder's device and inode, as bigints (exact on Windows too); undefined when it cannot be read. */
async function dirId(p: string): Promise<string | undefined> {
  try {
    const st: BigIntStats = await fs.stat(p, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}
