// A small tmpfs that only the CLI under test sees: mounted in a mount namespace of its own, kept
// alive by a holder process (`unshare -m … sleep`), entered by each CLI run (`nsenter`). It can be
// filled, freed and remounted read-only while a run goes on, and vanishes with its holder: nothing
// to clean up on the machine. Needs root and util-linux (CI runs as root); `start` says why not.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface PrivateTmpfs {
  /** The mount point, as the CLI sees it. */
  readonly dir: string;
  /** The same folder reached from this process (through the holder's /proc root). */
  readonly outside: string;
  /** `CliOptions.wrap`: runs the CLI inside the namespace, in `cwd`. */
  wrap(cwd: string): string[];
  /**
   * Fills the tmpfs (ENOSPC) and keeps it full: every file in it gets a second link first, so what
   * lakeup removes or replaces from then on frees no space a later write could take.
   */
  fill(): void;
  /** Removes the filler and those links. */
  free(): void;
  /** Remounts the tmpfs read-only or read-write. */
  remount(mode: 'ro' | 'rw'): void;
  close(): void;
}

const FILLER = '.filler';
const HELD = '.held';

/** Why a private tmpfs cannot be had here (undefined when it can). */
export function privateTmpfsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['unshare', 'nsenter']) if (spawnSync(tool, ['--version']).status !== 0) return `no ${tool}`;
  return undefined;
}

/** Mounts a tmpfs of `size` (mount's syntax: 512k, 2m) on `dir` in a namespace of its own; undefined when mount fails. */
export async function startPrivateTmpfs(dir: string, size: string): Promise<PrivateTmpfs | undefined> {
  fs.mkdirSync(dir, { recursive: true });
  const holder: ChildProcess = spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$0" && echo ready && exec sleep 100000', dir, size],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const ready = await new Promise<boolean>((resolve) => {
    holder.stdout!.on('data', (d) => String(d).includes('ready') && resolve(true));
    holder.on('exit', () => resolve(false));
  });
  if (!ready) return undefined;
  const pid = holder.pid!;
  const outside = path.join(`/proc/${pid}/root`, dir);
  const filler = path.join(outside, FILLER);
  const held = path.join(outside, HELD);
  const holdAll = () => {
    fs.mkdirSync(held, { recursive: true });
    for (const name of fs.readdirSync(outside)) {
      if (name.startsWith('.')) continue;
      try {
        fs.linkSync(path.join(outside, name), path.join(held, name));
      } catch {
        /* gone meanwhile, or linked already */
      }
    }
  };
  const topUp = () => {
    const fd = fs.openSync(filler, 'a');
    try {
      for (const size of [64 * 1024, 512]) {
        const chunk = Buffer.alloc(size);
        try {
          for (;;) fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  const inside = (cmd: string[]) => {
    const r = spawnSync('nsenter', ['-t', String(pid), '-m', ...cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
  };
  return {
    dir,
    outside,
    wrap: (cwd) => ['nsenter', '-t', String(pid), '-m', 'sh', '-c', 'cd "$0" && exec "$@"', cwd],
    fill() {
      // Twice: lakeup goes on meanwhile (files it made, or freed, during the first round).
      for (let i = 0; i < 2; i++) {
        holdAll();
        topUp(); // whole chunks, then the last pages by smaller writes
      }
    },
    free() {
      fs.rmSync(filler, { force: true });
      fs.rmSync(held, { recursive: true, force: true });
    },
    remount(mode) {
      inside(['mount', '-o', `remount,${mode}`, dir]);
    },
    close() {
      holder.kill('SIGKILL');
    },
  };
}
