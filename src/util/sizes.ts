// Byte sizes and durations as users type them. Sizes use bytes-iec: `MiB`/`GiB` are powers of
// 1024, `MB`/`GB` powers of 1000, a bare number is bytes.
import bytesIec from 'bytes-iec';
import { LakeupError } from '../errors.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Parses `5MiB`, `64MB`, `1GiB`, `1048576` into bytes; throws a usage error naming the flag otherwise. */
export function parseSize(text: string, flag: string): number {
  const trimmed = String(text).trim();
  const n = /^[0-9.]+\s*[a-zA-Z]*$/.test(trimmed) ? bytesIec.parse(trimmed) : null;
  if (n === null || !Number.isFinite(n) || n <= 0) {
    throw new LakeupError('usage', `${flag}: '${text}' is not a size (try 10MiB, 64MB, 1GiB or a number of bytes)`);
  }
  return Math.floor(n);
}

/** Formats bytes for humans in binary units: 10485760 → "10 MiB". */
export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  return bytesIec.format(n, { mode: 'binary', decimalPlaces: n >= GiB ? 2 : 1, unitSeparator: ' ' }) ?? `${n} B`;
}

/** Parses a rate such as `8MiB/s`, `500KB/s` or `500KB` into bytes per second. */
export function parseRate(text: string, flag: string): number {
  const m = /^(.*?)(?:\/s)?$/i.exec(String(text).trim());
  try {
    return parseSize(m ? m[1] : text, flag);
  } catch {
    throw new LakeupError('usage', `${flag}: '${text}' is not a rate (try 8MiB/s or 500KB/s)`);
  }
}

/** Parses `60`, `60s`, `200ms`, `5m`, `1h` into milliseconds. A bare number is seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(String(text).trim());
  if (!m) throw new LakeupError('usage', `${flag}: '${text}' is not a duration (try 30s, 200ms, 5m)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
