import { describe, expect, it } from 'vitest';
import { LakeupError } from '../../src/errors.js';
import { classify, type Action } from '../../src/http/classify.js';

/** An error shaped like the ones undici and Node throw: a code, no status. */
function sysErr(code: string): Error {
  return Object.assign(new Error(`socket said ${code}`), { code });
}

function httpErr(status: number, code?: string, message = `HTTP ${status}`, retryAfterMs?: number): LakeupError {
  return new LakeupError('server', message, { status, code, retryAfterMs });
}

describe('classify: one table decides what to do about every failure', () => {
  const rows: Array<[string, unknown, Action]> = [
    ['ECONNRESET', sysErr('ECONNRESET'), 'retry'],
    ['ECONNREFUSED', sysErr('ECONNREFUSED'), 'retry'],
    ['ENOTFOUND', sysErr('ENOTFOUND'), 'retry'],
    ['EAI_AGAIN', sysErr('EAI_AGAIN'), 'retry'],
    ['EPIPE', sysErr('EPIPE'), 'retry'],
    ['UND_ERR_SOCKET', sysErr('UND_ERR_SOCKET'), 'retry'],
    ['STALL (our watchdog)', new LakeupError('network', 'stalled', { code: 'STALL' }), 'retry'],
    ['BAD_DIGEST (our MD5 check)', new LakeupError('integrity', 'md5 mismatch', { code: 'BAD_DIGEST' }), 'retry'],
    ['HTTP 500', httpErr(500, 'InternalError'), 'retry'],
    ['HTTP 502', httpErr(502), 'retry'],
    ['HTTP 504', httpErr(504), 'retry'],
    ['HTTP 408', httpErr(408), 'retry'],
    ['HTTP 503', httpErr(503), 'throttle'],
    ['HTTP 429', httpErr(429), 'throttle'],
    ['S3 SlowDown (503)', httpErr(503, 'SlowDown'), 'throttle'],
    ['403 AccessDenied "Request has expired"', httpErr(403, 'AccessDenied', 'Request has expired'), 'refresh'],
    ['403 SignatureDoesNotMatch', httpErr(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match'), 'fatal'],
    ['403 AccessDenied without expiry', httpErr(403, 'AccessDenied', 'Access Denied'), 'fatal'],
    ['400 InvalidArgument', httpErr(400, 'InvalidArgument'), 'fatal'],
    ['400 without code', httpErr(400), 'fatal'],
    ['404 NoSuchUpload', httpErr(404, 'NoSuchUpload'), 'fatal'],
    ['400 RequestTimeout', httpErr(400, 'RequestTimeout'), 'retry'],
    ['400 IncompleteBody', httpErr(400, 'IncompleteBody'), 'retry'],
    ['401 from the API', httpErr(401), 'fatal'],
    ['409 conflict', httpErr(409, 'DRIVE_ITEM_CONFLICT'), 'fatal'],
    ['LakeupError interrupted', new LakeupError('interrupted', 'interrupted'), 'fatal'],
    ['LakeupError input', new LakeupError('input', 'file changed'), 'fatal'],
    ['LakeupError usage', new LakeupError('usage', 'bad flag'), 'fatal'],
    ['interrupted even with a transient code', new LakeupError('interrupted', 'x', { code: 'ECONNRESET' }), 'fatal'],
    ['unknown Error', new Error('something odd'), 'fatal'],
    ['unknown system code', sysErr('EWHATEVER'), 'fatal'],
    ['a thrown string', 'boom', 'fatal'],
    ['undefined', undefined, 'fatal'],
  ];

  it.each(rows)('%s → %s', (_name, err, action) => {
    expect(classify(err).action).toBe(action);
  });

  it.each([
    ['429', httpErr(429, undefined, 'slow', 2000), 2000],
    ['503', httpErr(503, undefined, 'slow', 1500), 1500],
    ['SlowDown', httpErr(503, 'SlowDown', 'Please reduce your request rate.', 3000), 3000],
  ])('throttle on %s carries Retry-After (%s)', (_n, err, ms) => {
    const v = classify(err);
    expect(v.action).toBe('throttle');
    expect(v.retryAfterMs).toBe(ms);
  });

  it('throttle without Retry-After leaves retryAfterMs undefined', () => {
    expect(classify(httpErr(429)).retryAfterMs).toBeUndefined();
  });

  it('names the stall as the reason for a stalled part', () => {
    expect(classify(new LakeupError('network', 'x', { code: 'STALL' })).reason).toBe('stalled');
  });

  it('keeps the message of a fatal error as its reason', () => {
    expect(classify(httpErr(404, 'NoSuchUpload', 'The specified upload does not exist')).reason).toContain('upload does not exist');
  });
});

describe('classify: rows added after review', () => {
  it.each([
    [{ status: 400, code: 'ExpiredToken', message: 'The provided token has expired.' }, 'refresh'],
    [{ status: 400, code: 'TokenRefreshRequired', message: 'x' }, 'refresh'],
    [{ status: 520, message: 'origin error' }, 'retry'],
    [{ status: 524, message: 'timeout' }, 'retry'],
    [{ status: 501, message: 'not implemented' }, 'fatal'],
    [{ status: 505, message: 'http version' }, 'fatal'],
    [Object.assign(new Error('premature'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }), 'retry'],
    [Object.assign(new Error('early'), { code: 'EARLY_ANSWER' }), 'retry'],
  ])('%o → %s', (err, action) => {
    expect(classify(err).action).toBe(action);
  });
});
