import { describe, expect, it } from 'vitest';
import { oneLine, parseErrorBody } from '../../src/http/error-body.js';

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

describe('oneLine', () => {
  it('collapses whitespace and newlines', () => {
    expect(oneLine('  a\n\tb\r\n  c  ')).toBe('a b c');
  });
});
