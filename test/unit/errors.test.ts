import { describe, expect, it } from 'vitest';
import { EXIT_CODES, isLakeupError, LakeupError, toLakeupError } from '../../src/errors.js';

describe('LakeupError', () => {
  it.each([
    ['usage', 2],
    ['input', 2],
    ['auth', 3],
    ['network', 1],
    ['server', 1],
    ['integrity', 1],
    ['conflict', 1],
    ['state', 1],
    ['interrupted', 130],
  ] as const)('kind %s exits with %d', (kind, code) => {
    expect(new LakeupError(kind, 'm').exitCode).toBe(code);
    expect(EXIT_CODES[kind]).toBe(code);
  });

  it('carries status, code, Retry-After, detail and cause', () => {
    const cause = new Error('root');
    const e = new LakeupError('server', 'msg', { status: 503, code: 'SlowDown', retryAfterMs: 100, detail: 'd', cause });
    expect(e).toMatchObject({ kind: 'server', message: 'msg', status: 503, code: 'SlowDown', retryAfterMs: 100, detail: 'd', name: 'LakeupError' });
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(Error);
  });

  it('toLakeupError keeps a LakeupError and wraps anything else as a server error with its message', () => {
    const e = new LakeupError('auth', 'x');
    expect(toLakeupError(e)).toBe(e);
    const w = toLakeupError(new TypeError('bad thing'));
    expect(isLakeupError(w)).toBe(true);
    expect(w.kind).toBe('server');
    expect(w.message).toBe('bad thing');
    expect(toLakeupError('text').message).toBe('text');
    expect(isLakeupError(new Error('x'))).toBe(false);
  });
});
