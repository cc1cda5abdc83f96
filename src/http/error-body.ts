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
    const text = squeezeSpace(withoutScripts(trimmed).replace(/<[^>]*(?:>|$)/g, ' '));
    return { message: text ? text.slice(0, 200) : undefined };
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return { message: trimmed ? squeezeSpace(trimmed).slice(0, 200) : undefined };
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

/**
 * The page without its <script> and <style> elements, in one pass: an unclosed one runs to the end.
 * (A lazy regex from every `<script` to its `</script>` took 6.4 s on 320 KB of unclosed ones.)
 */
function withoutScripts(html: string): string {
  const open = /<(script|style)\b/gi;
  let out = '';
  let from = 0;
  for (let m = open.exec(html); m; m = open.exec(html)) {
    out += `${html.slice(from, m.index)} `;
    const close = new RegExp(`</${m[1]}\\s*>`, 'gi');
    close.lastIndex = open.lastIndex;
    const end = close.exec(html);
    if (!end) return out;
    from = open.lastIndex = end.index + end[0].length;
  }
  return out + html.slice(from);
}

/** Every run of whitespace (line breaks, tabs, spaces) becomes one space: a body quoted in a line. */
export function squeezeSpace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
