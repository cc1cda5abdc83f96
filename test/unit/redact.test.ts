import { describe, expect, it } from 'vitest';
import { redact, redactUrl, registerSecret } from '../../src/util/redact.js';

describe('redact: presigned URL signatures', () => {
  const presigned =
    'https://bucket.s3-accelerate.amazonaws.com/uploads/key?partNumber=3&uploadId=abc123&X-Amz-Algorithm=AWS4-HMAC-SHA256' +
    '&X-Amz-Credential=AKIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z' +
    '&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef0123456789abcdef';

  it('redactUrl prints origin and path, never the query, whatever names the signature goes by', () => {
    expect(redactUrl(presigned)).toBe('https://bucket.s3-accelerate.amazonaws.com/uploads/key?…');
    for (const signed of [
      'https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=0a1b2c3d4e5f',
      'https://b-1250000000.cos.ap-beijing.myqcloud.com/o?q-sign-algorithm=sha1&q-signature=0a1b2c3d4e5f',
      'https://acct.blob.core.windows.net/c/o?sv=2022-11-02&sp=w&sig=0a1b2c3d4e5f%3D',
    ]) {
      const out = redactUrl(signed);
      expect(out).not.toContain('0a1b2c3d4e5f');
      expect(out).toBe(`${signed.slice(0, signed.indexOf('?'))}?…`);
    }
    expect(redactUrl('http://127.0.0.1:9/v1/thing')).toBe('http://127.0.0.1:9/v1/thing');
  });

  it('replaces X-Amz-Signature in text and keeps the other parameters', () => {
    const out = redact(presigned);
    expect(out).not.toContain('0123456789abcdef0123456789abcdef');
    expect(out).toContain('X-Amz-Signature=REDACTED');
    for (const kept of ['partNumber=3', 'uploadId=abc123', 'X-Amz-Expires=3600', 'X-Amz-SignedHeaders=host', 'X-Amz-Date=20240101T000000Z']) {
      expect(out).toContain(kept);
    }
    expect(out.startsWith('https://bucket.s3-accelerate.amazonaws.com/uploads/key?')).toBe(true);
  });

  it('replaces the credential too', () => {
    expect(redact(presigned)).not.toContain('AKIAEXAMPLE');
  });

  it('replaces a legacy Signature parameter', () => {
    const out = redact('https://b.s3.amazonaws.com/k?AWSAccessKeyId=AK&Expires=1700000000&Signature=abc%2Bdef%3D');
    expect(out).toBe('https://b.s3.amazonaws.com/k?AWSAccessKeyId=AK&Expires=1700000000&Signature=REDACTED');
  });

  it('replaces a signature that is the first parameter and one followed by a fragment', () => {
    expect(redact('https://x/y?X-Amz-Signature=deadbeef&partNumber=1')).toBe('https://x/y?X-Amz-Signature=REDACTED&partNumber=1');
    expect(redact('https://x/y?a=1&Signature=deadbeef#frag')).toBe('https://x/y?a=1&Signature=REDACTED#frag');
  });

  it('redacts URLs embedded in longer text', () => {
    const out = redact(`PUT ${presigned} → 403`);
    expect(out).not.toContain('0123456789abcdef0123456789abcdef');
    expect(out.endsWith(' → 403')).toBe(true);
  });

  it('leaves text without secrets alone', () => {
    const plain = 'part 3 of 12 failed: HTTP 500 InternalError (https://ml.test/openapi?partNumber=3)';
    expect(redact(plain)).toBe(plain);
  });
});

describe('redact: tokens', () => {
  it('replaces Bearer tokens', () => {
    expect(redact('Authorization: Bearer abc.DEF-123_~+/=')).toBe('Authorization: Bearer REDACTED');
    expect(redact('authorization: bearer someOpaqueToken42')).toBe('authorization: bearer REDACTED');
  });

  it('replaces MemoryLake sk_… and Copera cp_pat_… shaped tokens anywhere', () => {
    const out = redact('token sk_live_9f8e7d6c5b4a and cp_pat_0123456789abcdef were refused');
    expect(out).not.toContain('9f8e7d6c5b4a');
    expect(out).not.toContain('0123456789abcdef');
    expect(out).toBe('token sk_REDACTED and cp_pat_REDACTED were refused');
  });

  it('replaces a registered secret wherever it appears', () => {
    registerSecret('opaque-token-Zq81');
    const out = redact('{"message":"token opaque-token-Zq81 revoked","token":"opaque-token-Zq81"}');
    expect(out).not.toContain('opaque-token-Zq81');
    expect(out).toContain('REDACTED');
  });

  it('replaces the whole of a registered secret even when it also looks like a bearer value', () => {
    // A token with characters outside the Bearer pattern must not be half-redacted and half-leaked.
    registerSecret('tok!en$ecret42');
    const out = redact('Authorization: Bearer tok!en$ecret42');
    expect(out).not.toContain('en$ecret42');
    expect(out).not.toContain('tok!');
  });

  it('ignores secrets too short to be tokens', () => {
    registerSecret('ab');
    registerSecret(undefined);
    registerSecret('');
    expect(redact('tab and ab stay')).toBe('tab and ab stay');
  });
});

describe('redact: URLs quoted or encoded', () => {
  it.each([
    ['<a href="https://s3/x?a=1&amp;X-Amz-Signature=deadbeef&amp;b=2">', 'deadbeef'],
    ['https%3A%2F%2Fs3%2Fx%3FX-Amz-Signature%3Ddeadbeef%26b%3D2', 'deadbeef'],
    ['X-Amz-Signature=deadbeef at the start', 'deadbeef'],
  ])('hides the signature in %s', (text, secret) => {
    const out = redact(text);
    expect(out).not.toContain(secret);
    expect(out).toContain('REDACTED');
  });

  it('leaves a file name that merely starts like a token alone', () => {
    expect(redact('{"name":"sk_report_2024_final.bin"}')).toBe('{"name":"sk_report_2024_final.bin"}');
  });
});
