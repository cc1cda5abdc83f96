// The drive folders a --recursive run created, saved beside the upload states so that running the
// same command again reuses them (and so resumes each file's upload into the same parent) instead
// of creating a second tree (MemoryLake would call it photos_1).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ProviderName } from '../types.js';
import { writeAtomic } from './state-file.js';

interface FolderFile {
  version: 1;
  provider: ProviderName;
  endpoint: string;
  parent: string | null;
  roots: string[];
  folders: Record<string, string>;
}

export class FolderMap {
  private readonly file: string;
  private data: FolderFile;

  constructor(
    private readonly dir: string,
    provider: ProviderName,
    endpoint: string,
    parent: string | undefined,
    roots: string[],
  ) {
    const abs = roots.map((r) => path.resolve(r)).sort();
    const key = createHash('sha256').update(JSON.stringify([provider, endpoint, parent ?? null, abs])).digest('hex').slice(0, 16);
    this.file = path.join(dir, `${key}.folders.json`);
    this.data = { version: 1, provider, endpoint, parent: parent ?? null, roots: abs, folders: {} };
    try {
      const saved = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<FolderFile>;
      if (saved.version === 1 && saved.folders && typeof saved.folders === 'object') {
        for (const [k, v] of Object.entries(saved.folders)) if (typeof v === 'string' && v) this.data.folders[k] = v;
      }
    } catch {
      /* none yet, or unreadable: folders are created anew */
    }
  }

  get(segments: string[]): string | undefined {
    return this.data.folders[JSON.stringify(segments)];
  }

  set(segments: string[], id: string): void {
    this.data.folders[JSON.stringify(segments)] = id;
    writeAtomic(this.dir, this.file, JSON.stringify(this.data));
  }

  /** Forgets the folders: every file of the run is in the drive, or the user asked to start over. */
  forget(): void {
    fs.rmSync(this.file, { force: true });
    this.data.folders = {};
  }
}
