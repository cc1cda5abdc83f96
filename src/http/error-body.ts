// Reads the error bodies of both providers and of S3 into one shape. Every form docs/providers.md lists:
//  MemoryLake  {"success":false,"message":"…","error_code":"…"} (older: "code")
//  gateway     {"error":{"message":"…","type":"authentication_error"}}
//  Copera      {"error":"message","code":"MACHINE_CODE"} (some carry "message")
//  S3          <Error><Code>…</Code><Message>…</Message></Error>

export interface ErrorBody {
  message?: string;
  code?: string;
}

export function parseErrorBody(text: string): ErrorBody {
  const trimmed = text.trim();
  if (trimmed.startsWith('<')) {
    const code = /<Code>([^<]*)<\/Code>/.exec(trimmed)?.[1];
    const message = /<Message>([^<]*)<\/Message>/.exec(trimmed)?.[1];
    if (code !== undefined || message !== undefined) return { code, message };
    // Not S3's XML: an HTML error page from a proxy or gateway. Its text is better than nothing.
    const text = oneLine(trimmed.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' '));
    return { message: text ? text.slice(0, 200) : undefined };
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return { message: trimmed ? oneLine(trimmed).slice(0, 200) : undefined };
  }
  if (!json || typeof json !== 'object') return {};
  const o = json as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  if (o.error && typeof o.error === 'object') {
    const e = o.error as Record<string, unknown>;
    return { message: str(e.message), code: str(e.code) ?? str(e.type) };
  }
  return {
    message: str(o.message) ?? str(o.error) ?? str(o.msg),
    code: str(o.error_code) ?? str(o.code) ?? str(o.errorCode),
  };
}

export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
