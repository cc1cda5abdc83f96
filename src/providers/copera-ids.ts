// What a Copera id looks like (24 hex characters), checked where the flags are read: a wrong
// `--parent` is one usage line before any call, not a failure of every file of a run.
import { LakeupError } from '../errors.js';

export const ID24 = /^[0-9a-f]{24}$/i;

export function checkCoperaFolderId(parent: string | undefined): void {
  if (parent !== undefined && !ID24.test(parent)) {
    throw new LakeupError('usage', `--parent: Copera folder ids are 24 hex characters, got '${parent}'`);
  }
}
