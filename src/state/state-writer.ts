// Writes the state after every finished part without stalling the upload: each write runs on
// libuv's threads (write + fsync + rename took 1–3 ms of main thread per part when synchronous);
// parts that finish while a write is under way are covered by the next one, so there is at most one
// write in flight and one waiting. `flush()` resolves once everything recorded is on disk.
// A process that exits with changes not yet on disk (a second Ctrl-C exits at once) writes them
// synchronously on its way out: a finished part is never lost to an exit.
import { onExitSync } from '../util/exit-hooks.js';
import { saveState, saveStateAsync, type StateFile } from './state-file.js';

export class StateWriter {
  private writing: Promise<void> | undefined;
  private dirty = false;
  private error: unknown;
  /** Set while changes may not be on disk: the synchronous write at exit. */
  private unhook: (() => void) | undefined;

  constructor(
    private readonly dir: string,
    private readonly state: StateFile,
  ) {}

  /** The state changed: get it to disk soon. */
  schedule(): void {
    this.dirty = true;
    this.unhook ??= onExitSync(() => saveState(this.dir, this.state, { withUrls: false }));
    if (!this.writing) this.writing = this.drain();
  }

  /** Resolves when every change scheduled so far is on disk; rejects if a write failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.error) {
      const e = this.error;
      this.error = undefined;
      throw e;
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        await saveStateAsync(this.dir, this.state);
      }
    } catch (err) {
      this.error ??= err;
    } finally {
      this.writing = undefined;
      if (!this.dirty) {
        this.unhook?.();
        this.unhook = undefined;
      }
    }
  }
}
