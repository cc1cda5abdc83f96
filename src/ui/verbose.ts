// --verbose: one line per API call, part attempt, throttle and URL refresh, secrets redacted.
import path from 'node:path';
import type { UploadEvents } from '../events.js';
import { redactUrl } from '../util/redact.js';
import type { ProgressView } from './view.js';

export function attachVerbose(events: UploadEvents, view: ProgressView, file: string): void {
  const label = path.basename(file);
  events.on('api:call', (c) =>
    view.notice(`lakeup: ${label}: ${c.method} ${redactUrl(c.url)} → ${c.status ?? c.error ?? 'failed'} ${Math.round(c.ms)}ms`),
  );
  events.on('part:http', (p) =>
    view.notice(
      `lakeup: ${label}: part ${p.number} attempt ${p.attempt} PUT ${redactUrl(p.url)} → ${p.status ?? ''}${p.error ? ` ${p.error}` : ''} ${Math.round(p.ms)}ms`,
    ),
  );
  events.on('throttle', (t) => view.notice(`lakeup: ${label}: throttled, pausing ${t.pauseMs}ms, concurrency now ${t.concurrency}`));
  events.on('urls:refreshed', (u) => view.notice(`lakeup: ${label}: refreshed ${u.parts} part URLs (${u.reason})`));
}
