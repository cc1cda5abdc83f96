// Secrets never reach a terminal, a log or a state file's messages: API tokens and the signature
// of presigned URLs are replaced wherever text leaves the process.

// The parameter may follow ?, &, &amp; (a URL quoted in HTML or XML), %26 / %3F (percent-encoded)
// or start the text; its value ends at the next separator in any of those forms.
const SIGNATURE_PARAMS =
  /((?:^|[?&;\s"'(]|%26|%3F)(?:X-Amz-Signature|Signature|X-Amz-Credential|X-Amz-Security-Token|sig|signature)(?:=|%3D))(?:(?!%26|&)[^#\s"'<>])*/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
// Token-shaped words (sk_…, cp_pat_…) that were never registered, e.g. another token a server
// echoes. Long, and not followed by a dot or more word characters, so that a file named
// sk_report_2024.bin in a result line stays intact.
const TOKEN_SHAPES = /\b(sk_|cp_pat_)[A-Za-z0-9_-]{12,}(?![.\w])/g;

const knownSecrets = new Set<string>();

/** Registers a secret (the API token) so that any text containing it is redacted. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) knownSecrets.add(secret);
}

export function redact(text: string): string {
  // Known secrets first: a pattern below could otherwise redact half of one and leak the rest.
  let out = text;
  for (const s of knownSecrets) out = out.split(s).join('REDACTED');
  return out.replace(SIGNATURE_PARAMS, '$1REDACTED').replace(BEARER, '$1REDACTED').replace(TOKEN_SHAPES, '$1REDACTED');
}

/**
 * A URL fit for a log line: its origin and path, the query replaced by `?…`. Never the query: a
 * presigned URL's signature may sit under any name (X-Amz-Signature, X-Goog-Signature,
 * q-signature, sig…), and no list of names keeps up. Text that is not a URL is redacted as text.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redact(url.replace(/[?#][^]*$/, (q) => (q.startsWith('?') ? '?…' : '')));
  }
  return redact(`${u.origin}${u.pathname}${u.search ? '?…' : ''}`);
}
