// Test and benchmark controls under /_sandbox/ (no auth; never part of a provider's API):
//   GET  /_sandbox/stats                       what the sandbox saw (SandboxStats)
//   GET  /_sandbox/counts                      its counters only (StatsCounts): cheap to poll at 100,000 files
//   POST /_sandbox/faults  {FaultOptions}      replace the faults, apiRate included
//   POST /_sandbox/expire                      expire every presigned URL issued so far
//   POST /_sandbox/script  {ScriptRule}        queue a canned answer
//   POST /_sandbox/hold    {HoldRule}          queue a held (never answered) API call
//   POST /_sandbox/seed    [SeedItem, …]       TEST CONTROL: place items straight into the drive
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { SandboxContext } from './context.js';
import { readBody, sendJson } from './http.js';
import { seedDrive } from './seed.js';

export const CONTROL_PREFIX = '/_sandbox/';
const ACTIONS = ['faults', 'expire', 'script', 'hold', 'seed'];
const BODY_LIMIT = 16 * 1024 * 1024;

export async function handleControl(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const action = path.slice(CONTROL_PREFIX.length);
  if (req.method === 'GET' && action === 'stats') return sendJson(res, 200, ctx.stats.snapshot());
  if (req.method === 'GET' && action === 'counts') return sendJson(res, 200, ctx.stats.counts());
  if (req.method !== 'POST' || !ACTIONS.includes(action)) {
    req.resume();
    return sendJson(res, 404, { error: `no such control route: ${req.method} ${path}`, code: 'NOT_FOUND' });
  }
  try {
    const raw = (await readBody(req, BODY_LIMIT)).toString('utf8');
    const body: unknown = raw.trim() ? JSON.parse(raw) : {};
    switch (action) {
      case 'faults':
        ctx.faults.set(body);
        return sendJson(res, 200, { ok: true, faults: ctx.faults.current });
      case 'script':
        ctx.scripts.add(body as never);
        break;
      case 'hold':
        ctx.holds.add(body as never);
        break;
      case 'seed':
        return sendJson(res, 200, { ok: true, items: seedDrive(ctx, body) });
      default:
        ctx.signer.expireAll();
    }
    sendJson(res, 200, { ok: true });
  } catch (err) {
    sendJson(res, 400, { error: err instanceof Error ? err.message : String(err), code: 'INVALID_ARGUMENT' });
  }
}
