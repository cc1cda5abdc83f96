// Ctrl-C and SIGTERM. The first stops starting work: no new file, no new part; the parts in flight
// get GRACE_MS to finish, so that what was sent is kept, then whatever is still in flight is
// stopped (`abortNow`). A second signal stops everything at once (CI cancellation sends SIGINT,
// then SIGTERM seconds later): the state of every finished part is still written, synchronously if
// need be (util/exit-hooks.ts), and the process exits 130 within EXIT_MS. A third exits now.
// Windows delivers Ctrl-C as SIGINT too; SIGTERM and SIGHUP listeners are harmless there.
import { setMaxListeners } from 'node:events';
import { LakeupError } from '../errors.js';
import { processWriters, type Writers } from '../ui/streams.js';

/** How long the parts in flight may take to finish after the first Ctrl-C. */
export const GRACE_MS = 10_000;
/** After a second signal, the process exits by then even if something still waits. */
const EXIT_MS = 1_500;

export interface Interrupts {
  /** The first signal: start nothing new. */
  signal: AbortSignal;
  /** A second signal, or the grace time over: stop what is in flight. */
  abortNow: AbortSignal;
  dispose(): void;
}

export interface InterruptHandlers {
  /** The first signal arrived. */
  onFirst?: (sig: string) => void;
  /** The grace time is over with work still in flight. */
  onGraceOver?: () => void;
  /**
   * Says the line of a second or third signal: above a live bar, whose next redraw would otherwise
   * erase it (default: straight to stderr, on a line of its own).
   */
  say?: (line: string) => void;
}

export function watchInterrupts(h: InterruptHandlers = {}, io: Pick<Writers, 'rawErr'> = processWriters(), graceMs = GRACE_MS): Interrupts {
  const first = new AbortController();
  const now = new AbortController();
  // Every file going at once (--jobs) listens on these signals, through its parts' engine, its
  // API calls and its waits: as many listeners as work in flight, removed as it ends. Not a leak, so
  // Node's warning at 11 (which it would print on the user's terminal) does not apply.
  setMaxListeners(0, first.signal);
  setMaxListeners(0, now.signal);
  let grace: NodeJS.Timeout | undefined;
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGBREAK' as NodeJS.Signals] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const say = h.say ?? ((line: string) => io.rawErr(`\n${line}\n`));
  const handler = (sig: NodeJS.Signals) => {
    if (now.signal.aborted) {
      say('lakeup: interrupted again, exiting now');
      process.exit(130); // the exit hooks still write what finished
    }
    if (first.signal.aborted) {
      say('lakeup: interrupted again: stopping the parts in flight');
      clearTimeout(grace);
      now.abort(new LakeupError('interrupted', `interrupted by ${sig}`));
      setTimeout(() => process.exit(130), EXIT_MS).unref();
      return;
    }
    h.onFirst?.(sig);
    first.abort(new LakeupError('interrupted', `interrupted by ${sig}`));
    grace = setTimeout(() => {
      h.onGraceOver?.();
      now.abort(first.signal.reason);
    }, graceMs);
    grace.unref(); // an upload that ends sooner does not wait for it
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: first.signal,
    abortNow: now.signal,
    dispose() {
      clearTimeout(grace);
      for (const s of signals) process.off(s, handler);
    },
  };
}
