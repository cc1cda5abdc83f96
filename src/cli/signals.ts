// Ctrl-C and SIGTERM: the first stops the upload cleanly (state current, one line on how to
// resume, exit 130); a second one exits at once. Windows delivers Ctrl-C as SIGINT too; SIGTERM
// and SIGHUP listeners are harmless there.
import { setMaxListeners } from 'node:events';
import { LakeupError } from '../errors.js';
import { processWriters, type Writers } from '../ui/streams.js';

export interface Interrupts {
  signal: AbortSignal;
  dispose(): void;
}

export function watchInterrupts(onFirst: (sig: string) => void, io: Pick<Writers, 'rawErr'> = processWriters()): Interrupts {
  const controller = new AbortController();
  // Every file going at once (--jobs) listens on this one signal, through its parts' engine, its
  // API calls and its waits: as many listeners as work in flight, removed as it ends. Not a leak, so
  // Node's warning at 11 (which it would print on the user's terminal) does not apply.
  setMaxListeners(0, controller.signal);
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGBREAK' as NodeJS.Signals] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.rawErr('\nlakeup: interrupted again, exiting now\n');
      process.exit(130);
    }
    onFirst(sig);
    controller.abort(new LakeupError('interrupted', `interrupted by ${sig}`));
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: controller.signal,
    dispose() {
      for (const s of signals) process.off(s, handler);
    },
  };
}
