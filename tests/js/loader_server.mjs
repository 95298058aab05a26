// loader_server.mjs — a local HTTP server for the loader tests (and the browser
// tests): serves files with Range support, and misbehaves on request.
//
//   const srv = await startServer({ root });          // files under root by path
//   srv.url('tests/fixtures/x.gguf')                   // http://127.0.0.1:<port>/tests/fixtures/x.gguf
//   srv.rule('/tests/fixtures/x.gguf', { cutAt: 12345 })  // drop the connection once at that offset
//   srv.requests                                       // [{ path, range, status, sent }]
//
// Rules (per path): cutAt (byte offset; the first `cuts` responses that reach it are
// cut there, default 1), status (answer with it), truncate (serve only the first N
// bytes, as if the file were that long), noRange (ignore Range headers), hangUpResumes
// (hang up on every Range request right after the headers), slow
// ({ bytes, ms }: send `bytes` then wait `ms`), declareLength (announce this length,
// send the real bytes, then hang up), noLength (chunked, no Content-Length),
// validators ('etag' (default) | 'weak' (a weak ETag only) | 'last-modified' | 'none':
// the response's validators; If-Range is honoured only with a matching strong one),
// changeAfterCut (a Buffer: once a cut happened, the file has these bytes, another
// version), stallAt (byte offset: the first `stalls` responses (default 1) that reach
// it stop sending there, for stallMs or until the client hangs up).
// Extra headers for every response: options.headers (e.g. COOP/COEP).

import { createServer } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startServer({ root, headers = {}, files = {} } = {}) {
  const rules = new Map();
  const requests = [];
  const cache = new Map();
  const read = (path) => {
    if (files[path]) return files[path];
    if (!root) return null;
    let b = cache.get(path);
    if (!b) {
      const full = normalize(join(root, decodeURIComponent(path)));
      if (!full.startsWith(normalize(root))) return null;
      try {
        if (!statSync(full).isFile()) return null;
      } catch {
        return null;
      }
      b = readFileSync(full);
      cache.set(path, b);
    }
    return b;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    const rule = rules.get(path) ?? {};
    const log = { method: req.method, path, range: req.headers.range ?? null, ifRange: req.headers['if-range'] ?? null, status: 0, sent: 0 };
    requests.push(log);
    const common = { ...headers, 'Cache-Control': 'no-store' };
    if (rule.status) {
      log.status = rule.status;
      res.writeHead(rule.status, { ...common, 'Content-Type': 'text/plain' }).end(`status ${rule.status}`);
      return;
    }
    let body = read(path);
    if (!body) {
      log.status = 404;
      res.writeHead(404, { ...common, 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    if (rule.truncate !== undefined) body = body.subarray(0, rule.truncate);
    const changed = rule.cutDone && rule.changeAfterCut;
    if (changed) body = rule.changeAfterCut;
    const size = body.length;
    const version = changed ? 1 : rule.version ?? 0;
    const etag = `"${size.toString(16)}-${version}"`;
    const lastModified = new Date(Date.UTC(2024, 0, 1 + version)).toUTCString();
    const validators = rule.validators ?? 'etag';
    const strong = validators === 'etag' ? etag : validators === 'last-modified' ? lastModified : null;
    let start = 0;
    let status = 200;
    const m = !rule.noRange && /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && (!req.headers['if-range'] || req.headers['if-range'] === strong)) {
      start = Number(m[1]);
      if (start >= size) {
        log.status = 416;
        res.writeHead(416, { ...common, 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
    }
    const out = {
      ...common,
      'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream',
      'Accept-Ranges': rule.noRange ? 'none' : 'bytes',
    };
    if (validators === 'etag') out.ETag = etag;
    else if (validators === 'weak') out.ETag = `W/${etag}`;
    else if (validators === 'last-modified') out['Last-Modified'] = lastModified;
    if (!rule.noLength) out['Content-Length'] = rule.declareLength ?? size - start;
    if (status === 206) out['Content-Range'] = `bytes ${start}-${size - 1}/${size}`;
    log.status = status;
    res.writeHead(status, out);
    if (req.method === 'HEAD') return res.end();

    if (rule.hangUpResumes && start > 0) {
      res.flushHeaders();
      await sleep(5);
      res.socket?.destroy();
      return;
    }
    const cutAt = rule.cutAt !== undefined && (rule.cuts ?? 1) > 0 && rule.cutAt > start && rule.cutAt < size ? rule.cutAt : -1;
    if (cutAt >= 0) rule.cuts = (rule.cuts ?? 1) - 1;
    const stallAt = rule.stallAt !== undefined && (rule.stalls ?? 1) > 0 && rule.stallAt >= start && rule.stallAt < size ? rule.stallAt : -1;
    if (stallAt >= 0) rule.stalls = (rule.stalls ?? 1) - 1;
    const step = rule.slow?.bytes ?? 64 << 10;
    let closed = false;
    res.on('close', () => (closed = true));
    const stall = async () => {
      log.stalled = true;
      const until = Date.now() + (rule.stallMs ?? 1e9);
      while (!closed && Date.now() < until) await sleep(10);
    };
    if (stallAt === start) {
      res.flushHeaders();
      await stall();
    }
    for (let off = start; off < size && !closed; ) {
      let end = Math.min(size, off + step);
      if (cutAt >= 0 && end > cutAt) end = cutAt;
      if (stallAt >= 0 && end > stallAt) end = stallAt;
      const chunk = body.subarray(off, end);
      log.sent += chunk.length;
      const ok = res.write(chunk);
      off = end;
      if (off === stallAt) await stall();
      if (off === cutAt) {
        rule.cutDone = true;
        await new Promise((r) => res.socket ? res.socket.write('', r) : r());
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      if (!ok)
        await new Promise((r) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            r();
          };
          res.on('drain', done).on('close', done);
        });
      if (rule.slow) await sleep(rule.slow.ms);
    }
    if (rule.declareLength !== undefined) {
      res.socket?.destroy();
      return;
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    url: (p) => `http://127.0.0.1:${port}/${p.replace(/^\//, '')}`,
    requests,
    rule(path, r) {
      path = '/' + path.replace(/^\//, '').replace(/^http:\/\/[^/]+\//, '');
      if (r) rules.set(path, { ...r });
      else rules.delete(path);
    },
    reset() {
      rules.clear();
      requests.length = 0;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}
