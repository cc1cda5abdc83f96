/** An ETag as the APIs want it: unquoted (`"d41d…"` → `d41d…`), weak `W/"…"` too. */
export function plainEtag(etag: string): string {
  let e = etag.trim();
  if (e.startsWith('W/')) e = e.slice(2);
  if (e.length >= 2 && e.startsWith('"') && e.endsWith('"')) e = e.slice(1, -1);
  return e;
}
