// What one command records in the ledger (ledger.ts), kept on disk, not in memory, until the ledger
// is written at the end: a run of 100,000 files would otherwise hold 50,000 entries of JSON text
// (~36 MB of strings, and V8 grows its heap to about three times what it holds). A temp file of the
// state folder (`ledger.json.<host>-<pid>-<rand>.tmp`, 0600), one line per entry recorded,
// `<key as JSON>\t<entry JSON>` (JSON holds no raw tab), written a batch at a time in the
// background; the sweep removes it if the process died. It is a cache's: a write that fails costs
// the next run a look in the drive for those files, nothing more.
import fs from 'node:fs/promises';
import path from 'node:path';
import { tempPathFor } from './atomic-write.js';
import { readLines } from './journal-store.js';
import { removeFile } from './remove.js';
import { ensureStateDirAsync } from './state-dir.js';

/** Bytes of entries gathered before they are written. */
const BATCH_BYTES = 64 << 10;

export class LedgerSpill {
  /** Entries recorded (lines in the file once written). */
  count = 0;
  private batch: string[] = [];
  private batchBytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private handle: fs.FileHandle | undefined;
  private file: string | undefined;
  private lost = false;

  constructor(private readonly ledgerFile: string) {}

  add(key: string, json: string): void {
    const line = `${JSON.stringify(key)}\t${json}\n`;
    this.batch.push(line);
    this.batchBytes += line.length;
    this.count++;
    if (this.batchBytes >= BATCH_BYTES) this.write();
  }

  /**
   * The entries recorded, as `"key":json` members of the ledger's object, from the `skip`th on, in
   * the order recorded (a key recorded twice: its later member wins when read), after the file is
   * all written. `keys`: gets the key of each. Nothing when a write failed.
   */
  async *members(skip: number, keys?: Set<string>): AsyncGenerator<string> {
    this.write();
    await this.writing;
    // Read through the handle it was written with, never reopened by name: the name is a temp
    // file's, and another host's sweep removes one nothing was appended to for a lease (its pid
    // means nothing there) — a run of big files records rarely. Removed, its content is still there.
    if (this.lost || this.handle === undefined) return;
    let i = 0;
    for await (const rows of readLines(this.handle, undefined, BATCH_BYTES)) {
      for (const row of rows) {
        if (i++ < skip) continue;
        const tab = row.indexOf('\t');
        if (tab < 0) continue;
        keys?.add(JSON.parse(row.slice(0, tab)) as string);
        yield `${row.slice(0, tab)}:${row.slice(tab + 1)}`;
      }
    }
  }

  /** Forgets what was recorded (once it is in the ledger) and removes the file. */
  async clear(): Promise<void> {
    this.write();
    await this.writing;
    await this.handle?.close().catch(() => undefined);
    const file = this.file;
    this.handle = undefined;
    this.file = undefined;
    this.count = 0;
    this.lost = false;
    if (file) await removeFile(file).catch(() => undefined);
  }

  private write(): void {
    if (this.batch.length === 0) return;
    const text = this.batch.join('');
    this.batch = [];
    this.batchBytes = 0;
    this.writing = this.writing.then(async () => {
      if (this.lost) return;
      try {
        if (!this.handle) {
          await ensureStateDirAsync(path.dirname(this.ledgerFile));
          this.file ??= tempPathFor(this.ledgerFile);
          this.handle = await fs.open(this.file, 'a+', 0o600); // read back by `members`
        }
        await this.handle.appendFile(text);
      } catch {
        this.lost = true;
      }
    });
  }
}
