// Secrets never reach a terminal, a log or a state file's messages: API tokens and the signature
// of presigned URLs are replaced wherever text leaves the process.

const SIGNATURE_PARAMS = /([?&](?:X-Amz-Signature|Signature|X-Amz-Credential|X-Amz-Security-Token|sig|signature)=)[^&#\s"'<>]*/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const TOKEN_SHAPES = /\b(sk_|cp_pat_)[A-Za-z0-9._-]{4,}/g;

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

/** A URL fit for a log line: origin and path, with signature-bearing query values replaced. */
export function redactUrl(url: string): string {
  return redact(url);
}
