// Pids for the lock and state-folder tests: one of a process that is certainly alive and not ours,
// and ones of processes that have certainly exited.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';

export interface Sleeper {
  readonly pid: number;
}

/** A process that stays alive for the whole file: its pid is a live lock owner that is not us. */
export function useSleeper(): Sleeper {
  let sleeper: ChildProcess;
  beforeAll(async () => {
    sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((r) => sleeper.once('spawn', r));
  });
  afterAll(() => {
    sleeper?.kill();
  });
  return {
    get pid() {
      return sleeper.pid!;
    },
  };
}

/** The pid of a process that has certainly exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}
