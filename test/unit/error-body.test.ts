import { describe, expect, it } from 'vitest';
import { LakeupError } from '../../src/errors.js';
import { squeezeSpace, parseErrorBody } from '../../src/http/error-body.js';
import { classify, type Action } from '../../src/http/classify.js';
import { fixtureText } from './fixtures.js';

describe('parseErrorBody reads HTML in linear time', () => {
  // 320 KB of unclosed <script took 6.4 s with a lazy regex per <script; 1 MiB would take about a minute.
  it.each([
    ['unclosed <script', '<script'],
    ['unclosed <style', '<style>'],
    ['tags that never close', '<a '],
  ])('1 MiB of %s is read in well under a second', (_what, unit) => {
    const page = `<html><body>Bad Gateway ${unit.repeat(Math.ceil((1024 * 1024) / unit.length))}`;
    const t0 = performance.now();
    const { message } = parseErrorBody(page);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(message).toBe('Bad Gateway');
  });

  it('still drops closed <script> and <style> elements and keeps the text around them', () => {
    expect(parseErrorBody('<html><style>p{}</style><h1>502</h1><script>x()</SCRIPT >Bad <b>Gateway</b></html>').message).toBe('502 Bad Gateway');
  });
});

describe('parseErrorBody reads every error form into {message, code}', () => {
  it.each([
    [
      'MemoryLake success:false with error_code',
      '{"success":false,"message":"file_size must be >= 1","error_code":"INVALID_ARGUMENT"}',
      { message: 'file_size must be >= 1', code: 'INVALID_ARGUMENT' },
    ],
    [
      'older MemoryLake with code',
      '{"success":false,"message":"quota exceeded","code":"QUOTA_EXCEEDED"}',
      { message: 'quota exceeded', code: 'QUOTA_EXCEEDED' },
    ],
    [
      'the auth gateway 401',
      '{"error":{"message":"Invalid API key","type":"authentication_error"}}',
      { message: 'Invalid API key', code: 'authentication_error' },
    ],
    [
      'a nested error with its own code',
      '{"error":{"message":"nope","code":"E1","type":"t"}}',
      { message: 'nope', code: 'E1' },
    ],
    ['Copera {error, code}', '{"error":"Folder not found","code":"FOLDER_NOT_FOUND"}', { message: 'Folder not found', code: 'FOLDER_NOT_FOUND' }],
    ['Copera with message only', '{"message":"Token expired","code":"TOKEN_EXPIRED"}', { message: 'Token expired', code: 'TOKEN_EXPIRED' }],
    [
      'S3 XML',
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>X</RequestId></Error>',
      { message: 'Request has expired', code: 'AccessDenied' },
    ],
    ['S3 XML with only a code', '<Error><Code>SlowDown</Code></Error>', { message: undefined, code: 'SlowDown' }],
  ])('%s', (_name, text, expected) => {
    expect(parseErrorBody(text)).toEqual(expected);
  });

  it('has neither message nor code for an empty body', () => {
    const b = parseErrorBody('');
    expect(b.message).toBeUndefined();
    expect(b.code).toBeUndefined();
    expect(parseErrorBody('   \n ').message).toBeUndefined();
  });

  it('keeps a plain-text body as the message, on one line', () => {
    expect(parseErrorBody('upstream connect error\n  or disconnect')).toEqual({ message: 'upstream connect error or disconnect' });
  });

  it('cuts a long garbage body to 200 characters', () => {
    const b = parseErrorBody('x'.repeat(5000));
    expect(b.message).toHaveLength(200);
    expect(b.code).toBeUndefined();
  });

  it('gives the text of an HTML error page instead of nothing', () => {
    const b = parseErrorBody('<html>\n<head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1></body></html>');
    expect(b.message).toContain('502 Bad Gateway');
    expect(b.message).not.toContain('<');
    expect(b.message).not.toContain('\n');
  });

  it.each(['null', '42', '"just a string"', '[]', '{}'])('finds nothing in the JSON %s', (text) => {
    const b = parseErrorBody(text);
    expect(b.message).toBeUndefined();
    expect(b.code).toBeUndefined();
  });

  it('ignores empty strings and non-string fields', () => {
    expect(parseErrorBody('{"success":false,"message":"","error_code":7}')).toEqual({ message: undefined, code: undefined });
  });
});

describe('parseErrorBody reads every recorded error body in fixtures/', () => {
  it.each([
    ['memorylake/error-invalid-argument.json', 'file_size must be >= 1', 'INVALID_ARGUMENT'],
    ['memorylake/error-not-found.json', 'drive item not found', 'NOT_FOUND'],
    ['memorylake/error-conflict.json', "an item named 'reports' already exists in this folder", 'DRIVE_ITEM_CONFLICT'],
    ['memorylake/error-forbidden.json', 'forbidden', 'PERMISSION_DENIED'],
    ['memorylake/error-quota.json', 'storage quota exceeded', 'QUOTA_EXCEEDED'],
    ['memorylake/error-rate-limited.json', 'Too many requests', 'RATE_LIMITED'],
    ['memorylake/error-internal.json', 'internal error', 'INTERNAL'],
    ['memorylake/error-older-code.json', 'parent not found', 'NOT_FOUND'],
    ['memorylake/error-unauthorized.json', 'Invalid API key provided', 'authentication_error'],
    ['copera/error-validation.json', 'fileSize must be positive', 'INVALID_FILE_SIZE'],
    ['copera/error-token-expired.json', 'Token expired', 'TOKEN_EXPIRED'],
    ['copera/error-scope.json', 'Missing scope drive', 'INSUFFICIENT_SCOPE'],
    ['copera/error-not-found.json', 'File not found', 'NOT_FOUND'],
    ['copera/error-not-found-message.json', 'Folder not found', 'NOT_FOUND'],
    ['copera/error-conflict.json', 'A file with this name exists', 'CONFLICT'],
    ['copera/error-rate-limited.json', 'Too many requests', 'RATE_LIMITED'],
    ['copera/error-internal.json', 'internal', 'INTERNAL'],
  ])('%s', (file, message, code) => {
    expect(parseErrorBody(fixtureText(file))).toEqual({ message, code });
  });

  // What a part PUT makes of each S3 error (send-part.ts words it so), and what the failure table
  // then does: a fresh URL for an expired one, a pause for SlowDown, a retry for InternalError, and
  // nothing more for an altered URL, a bearer header or an upload that is gone.
  it.each([
    ['s3/access-denied-expired.xml', 403, 'AccessDenied', 'Request has expired', 'refresh'],
    ['s3/signature-does-not-match.xml', 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match', 'fatal'],
    ['s3/slow-down.xml', 503, 'SlowDown', 'Please reduce your request rate.', 'throttle'],
    ['s3/internal-error.xml', 500, 'InternalError', 'We encountered an internal error. Please try again.', 'retry'],
    ['s3/invalid-argument-one-auth.xml', 400, 'InvalidArgument', 'Only one auth mechanism allowed', 'fatal'],
    ['s3/no-such-upload.xml', 404, 'NoSuchUpload', 'The specified upload does not exist.', 'fatal'],
  ] as Array<[string, number, string, string, Action]>)('%s (HTTP %i, %s: %s…) is classified %s', (file, status, code, message, action) => {
    const body = parseErrorBody(fixtureText(file));
    expect(body.code).toBe(code);
    expect(body.message?.startsWith(message)).toBe(true);
    const err = new LakeupError('server', `part 1: storage answered HTTP ${status} (${body.code}: ${body.message})`, { status, code: body.code });
    expect(classify(err).action).toBe(action);
  });
});

describe('squeezeSpace', () => {
  it('collapses whitespace and newlines', () => {
    expect(squeezeSpace('  a\n\tb\r\n  c  ')).toBe('a b c');
  });
});
