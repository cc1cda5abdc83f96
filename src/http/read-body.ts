// Reading an answer's body with a cap: a hostile or broken server can send gigabytes (an error page
// that never ends, a JSON answer that is not one). What is past the cap is not read: the stream is
// destroyed, and with it the connection, so the cap bounds memory and time alike.
import { formatSize } from '../util/sizes.js';

/** The most lakeup reads of a successful API answer (a 10,000-part layout with long URLs is ~20 MiB). */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** The most lakeup reads of an error answer: its message is at the start, and parsing it stays cheap. */
export const MAX_ERROR_BYTES = 1024 * 1024;

export interface BodyText {
  text: string;
  /** The body went on past `limit`: `text` is its first `limit` bytes. */
  cut: boolean;
}

export async function readBody(body: AsyncIterable<Buffer>, limit: number): Promise<BodyText> {
  const chunks: Buffer[] = [];
  let n = 0;
  let cut = false;
  for await (const chunk of body) {
    if (n + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - n));
      cut = true;
      break; // ends the iteration, which destroys the stream
    }
    chunks.push(chunk);
    n += chunk.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), cut };
}

/** "a 20 MiB HTML page", "more than 1 MiB of HTML", "more than 64 MiB": what a cut body was, for one line. */
export function describeCutBody(text: string, contentLength: string | string[] | undefined, limit: number): string {
  const html = /^\s*</.test(text);
  const length = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  if (Number.isSafeInteger(length) && length > limit) return `a ${formatSize(length)} ${html ? 'HTML page' : 'body'}`;
  return `more than ${formatSize(limit)}${html ? ' of HTML' : ''}`;
}
