// --files-from: the paths to send, read from a file or standard input ("-"). One path a line (a
// trailing \r is dropped, blank lines are skipped), or NUL-separated as `find -print0` writes them:
// a list holding a NUL byte is read that way, since no path can hold one. Each path is taken as if it
// were named on the command line, relative to the current folder; a "-" in a list is a file of that
// name, not standard input.
import fs from 'node:fs/promises';
import { LakeupError } from '../errors.js';

export async function readFilesFrom(from: string, stdin: NodeJS.ReadableStream): Promise<string[]> {
  let text: string;
  try {
    text = from === '-' ? await readAll(stdin) : await fs.readFile(from, 'utf8');
  } catch (err) {
    throw new LakeupError('usage', `--files-from: cannot read ${from === '-' ? 'standard input' : from} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const paths = parseFileList(text);
  if (paths.length === 0) throw new LakeupError('input', `--files-from: ${from === '-' ? 'standard input' : from} names no files`);
  return paths.map((p) => (p === '-' ? `.${process.platform === 'win32' ? '\\' : '/'}-` : p));
}

/** The paths of a list: NUL-separated if it holds a NUL, else one a line. */
export function parseFileList(text: string): string[] {
  const entries = text.includes('\0') ? text.split('\0') : text.split(/\r?\n/);
  return entries.filter((p) => p !== '' && (text.includes('\0') || p.trim() !== ''));
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
