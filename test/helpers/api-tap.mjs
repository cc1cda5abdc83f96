// A transparent reverse proxy in front of the sandbox, for the kill-anywhere soak: it names what
// each API call is for (session, URL refresh, finalize, folder, lookup), knows which calls and part
// PUTs are in flight and in which phase, and can hold or slow one kind of API call on demand, so a
// test can kill lakeup at a chosen moment instead of hoping a timer lands there.
//
// The sandbox signs part URLs for the host the client used, so part PUTs come through here too;
// they are streamed both ways untouched (moment 'part'), never held; `slow('part', { until })`
// withholds their answers (the part is stored) until `until` resolves.
//
// Like a real server, the sandbox gets a request once its body has arrived whole, and carries it
// out whether or not the client is still there: a call forwarded (or "being worked on", see
// `slow`) when lakeup is killed still takes effect afterwards. `idle()` waits for that.
import { EventEmitter } from 'node:events';
import http from 'node:http';

/** What an API call is for, from its method, path and body. */
export function momentOf(method, pathname, body, presigned) {
  if (pathname.startsWith('/openapi/memorylake/')) {
    if (method === 'POST' && pathname.endsWith('/drives/items/upload')) return 'session';
    if (method === 'POST' && pathname.endsWith('/drives/items')) return body?.item_type === 'folder' ? 'folder' : 'finalize';
    return 'lookup';
  }
  if (pathname.startsWith('/public/v1/')) {
    if (pathname.endsWith('/multipart/start')) return 'session';
    if (pathname.endsWith('/multipart/presigned-urls')) return presigned.has(body?.uploadId) ? 'url-refresh' : 'session';
    if (pathname.endsWith('/multipart/finalize')) return 'finalize';
    if (pathname.endsWith('/drive/folders')) return 'folder';
    return 'lookup';
  }
  return 'other';
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade']);

/**
 * @param {string} target the sandbox origin
 */
export async function startApiTap(target) {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const events = new EventEmitter();
  events.setMaxListeners(100);
  /** Calls a client is waiting on (entries), and upstream work still under way (promises). */
  const live = new Set();
  const work = new Set();
  /** Copera upload ids that got their first presigned URLs: a later presign is a refresh. */
  const presigned = new Set();
  let holds = [];
  let slow = {};
  const counts = {};
  let nextId = 1;
  const sockets = new Set();

  const forward = (req, raw) =>
    new Promise((resolve, reject) => {
      // The client's Host stays: the URLs the sandbox signs point back here.
      const headers = { ...req.headers, 'content-length': String(raw.length) };
      delete headers.connection;
      delete headers['keep-alive'];
      delete headers['transfer-encoding'];
      const out = http.request(
        { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (answer) => {
          const chunks = [];
          answer.on('data', (c) => chunks.push(c));
          answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
          answer.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(raw);
    });

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function handle(req, res, raw) {
    const url = new URL(req.url ?? '/', 'http://tap');
    let body;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const moment = momentOf(req.method ?? 'GET', url.pathname, body, presigned);
    counts[moment] = (counts[moment] ?? 0) + 1;
    const entry = {
      id: nextId++,
      moment,
      method: req.method,
      path: url.pathname,
      /** waiting | server-busy | at-server | held-before | held-after | answer-delayed */
      phase: 'waiting',
      clientGone: false,
      status: undefined,
      startedAt: Date.now(),
      name: typeof body?.name === 'string' ? body.name : typeof body?.fileName === 'string' ? body.fileName : undefined,
    };
    const gone = new Promise((resolve) => {
      res.once('close', () => {
        if (!res.writableFinished) entry.clientGone = true;
        resolve();
      });
    });
    live.add(entry);
    events.emit('request', entry);
    const rule = (when) => {
      const i = holds.findIndex((h) => h.moment === moment && h.when === when);
      if (i < 0) return false;
      if (--holds[i].left <= 0) holds.splice(i, 1);
      return true;
    };
    let done;
    const task = new Promise((r) => (done = r));
    work.add(task);
    try {
      if (rule('before')) {
        // Never reaches the server; released when the client goes away.
        entry.phase = 'held-before';
        events.emit('held', entry);
        await gone;
        return;
      }
      const s = slow[moment];
      if (s?.beforeMs || s?.until) {
        // The server has the request and is slow to act on it: it acts even if the client dies.
        entry.phase = 'server-busy';
        events.emit('server-busy', entry);
        if (s.beforeMs) await sleep(s.beforeMs);
        if (s.until) await s.until;
      }
      entry.phase = 'at-server';
      let answer;
      try {
        answer = await forward(req, raw);
      } catch {
        res.destroy();
        return;
      }
      entry.status = answer.status;
      if (answer.status >= 200 && answer.status < 300 && moment === 'session' && typeof body?.uploadId === 'string') presigned.add(body.uploadId);
      events.emit('answered', entry);
      if (entry.clientGone || res.destroyed) return;
      const ok = answer.status >= 200 && answer.status < 300;
      if (ok && rule('after')) {
        // Took effect; the answer never comes back.
        entry.phase = 'held-after';
        events.emit('held', entry);
        await gone;
        return;
      }
      if (ok && s?.afterMs) {
        entry.phase = 'answer-delayed';
        events.emit('answer-delayed', entry);
        await Promise.race([sleep(s.afterMs), gone]);
        if (entry.clientGone || res.destroyed) return;
      }
      const headers = {};
      for (const [k, v] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      headers['content-length'] = String(answer.body.length);
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    } finally {
      live.delete(entry);
      work.delete(task);
      done();
    }
  }

  /** A part PUT: streamed through, counted while in flight. */
  function part(req, res) {
    counts.part = (counts.part ?? 0) + 1;
    const entry = { id: nextId++, moment: 'part', method: req.method, path: new URL(req.url ?? '/', 'http://tap').pathname, phase: 'at-server', clientGone: false, startedAt: Date.now() };
    live.add(entry);
    events.emit('request', entry);
    const until = slow.part?.until;
    const out = http.request({ agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      answer.on('error', () => res.destroy());
      const reply = () => {
        entry.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      };
      if (until) {
        answer.pause();
        void until.then(reply, reply);
      } else reply();
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
    // The client went away (killed, or gave up on a stall): so does the request to the server.
    res.once('close', () => {
      live.delete(entry);
      if (!res.writableFinished) {
        entry.clientGone = true;
        out.destroy();
      }
    });
  }

  const server = http.createServer((req, res) => {
    if (req.method === 'PUT' && (req.url ?? '').startsWith('/storage/')) return part(req, res);
    const chunks = [];
    let aborted = false;
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => (aborted = true));
    req.on('close', () => {
      if (!req.complete) aborted = true;
    });
    // A request whose body did not arrive whole never reaches the server.
    req.on('end', () => {
      if (!aborted) void handle(req, res, Buffer.concat(chunks));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r()));

  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    events,
    /** Requests per moment so far. */
    counts: () => ({ ...counts }),
    /** The calls a (living) client is waiting on now. */
    inflight: () => [...live].filter((e) => !e.clientGone).map((e) => ({ ...e })),
    /** Holds the next `times` calls of this moment: never forwarded ('before') or never answered ('after', 2xx only). */
    hold(moment, when, times = 1) {
      holds.push({ moment, when, left: times });
    },
    /**
     * Slows every call of this moment: the server acts `beforeMs` late (or once `until` resolves),
     * the 2xx answer comes `afterMs` late. Part PUTs take `until` only: stored at once, answered
     * once it resolves.
     */
    slow(moment, s) {
      slow = { ...slow, [moment]: s };
    },
    /** Forgets holds and slowness not used up (calls already held or slowed go on as they were). */
    reset() {
      holds = [];
      slow = {};
    },
    /** Resolves once no call is being carried out or held (late effects of killed clients have landed). */
    async idle() {
      while (work.size > 0) await Promise.race([...work]);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
      agent.destroy();
    },
  };
}
