import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveStateFullAsync, stateId, statePath } from '../../src/state/state-file.js';
import { UploadState } from '../../src/upload/upload-state.js';
import { inspectFileAsync } from '../../src/upload/local-file.js';
import { makeFile, tempDir } from '../helpers/files.js';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A saved state of `file` to `endpoint` whose part URLs are `urls`, and an UploadState that looks for it. */
async function saved(endpoint: string, urls: string[]) {
  const file = await makeFile(path.join(dir, 'f.bin'), 10, 1);
  const fp = await inspectFileAsync(file);
  const dest = { name: 'f.bin' };
  const id = stateId('memorylake', endpoint, fp.path, dest);
  const now = Date.now();
  const parts = urls.map((_, i) => ({ number: i + 1, offset: i * 5, size: 5 }));
  await saveStateFullAsync(dir, {
    version: 1,
    id,
    provider: 'memorylake',
    endpoint,
    dest,
    file: fp,
    session: { uploadId: 'u1', parts, urls, urlsIssuedAt: now, createdAt: now },
    done: [],
    createdAt: now,
    updatedAt: now,
  });
  const notices: string[] = [];
  const upload = new UploadState({ dir, id, provider: 'memorylake', endpoint, dest, notice: (l) => notices.push(l), display: 'f.bin' });
  return { upload, fp, id, notices };
}

describe('UploadState.find judges the part URLs it reads back from disk', () => {
  it('sets aside a state whose URLs are plain http under an https API, with one notice, and starts over', async () => {
    const { upload, fp, id, notices } = await saved('https://api.test', ['https://s3.test/k?partNumber=1', 'http://s3.test/k?partNumber=2']);
    try {
      expect(await upload.find(fp, undefined)).toBeUndefined();
    } finally {
      await upload.unlock();
    }
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(
      /^ignoring the saved state of an earlier upload because part 2's upload URL is plain http:\/\/ while the API is https:\/\/: lakeup does not send a file unencrypted \(moved to .+\); starting from the beginning$/,
    );
    expect(fs.existsSync(statePath(dir, id))).toBe(false);
  });

  it('resumes a state whose http URLs came from a plain http API (the sandbox)', async () => {
    const { upload, fp, notices } = await saved('http://127.0.0.1:9', ['http://127.0.0.1:9/k?partNumber=1', 'http://127.0.0.1:9/k?partNumber=2']);
    try {
      expect((await upload.find(fp, undefined))?.session.uploadId).toBe('u1');
    } finally {
      await upload.unlock();
    }
    expect(notices).toEqual([]);
  });
});
