#!/usr/bin/env node
// serve.mjs — a small static server for the demo page (npm start).
//
//   node scripts/serve.mjs [--port 8080] [--host 127.0.0.1] [--no-isolation]
//
// Serves the repository (web/ is the demo, js/ and dist/ the library, models/ the
// models) with the COOP/COEP headers that make the page cross-origin isolated
// (SharedArrayBuffer -> the multi-threaded build), the right MIME types for
// .wasm / .js / .mjs / .gguf, Range requests (resumed downloads) and HEAD.
// Any other static server works too (without threads if it sends no COOP/COEP).
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * An http.Server for `root`. isolate (default true): send COOP/COEP (and CORP, so
 * the page may load its own files). '/' redirects to '/web/'; directories serve index.html.
 */
export function createStaticServer({ root = ROOT, isolate = true, log = null } = {}) {
  const base = normalize(root + sep);
  return createServer((req, res) => {
    const headers = { 'Cross-Origin-Resource-Policy': 'cross-origin', 'Access-Control-Allow-Origin': '*', 'Accept-Ranges': 'bytes' };
    if (isolate) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    const done = (status, extra = {}, body = '') => {
      log?.(`${status} ${req.method} ${req.url}`);
      res.writeHead(status, { ...headers, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return done(405, { Allow: 'GET, HEAD' });
    let url;
    try {
      url = new URL(req.url, 'http://localhost');
    } catch {
      return done(400);
    }
    if (url.pathname === '/') return done(302, { Location: '/web/' });
    let path;
    try {
      path = normalize(join(root, decodeURIComponent(url.pathname)));
    } catch {
      return done(400);
    }
    if (path !== normalize(root) && !path.startsWith(base)) return done(403, {}, 'forbidden');
    if (existsSync(path) && statSync(path).isDirectory()) {
      if (!url.pathname.endsWith('/')) return done(301, { Location: `${url.pathname}/${url.search}` });
      path = join(path, 'index.html');
    }
    if (!existsSync(path) || !statSync(path).isFile()) return done(404, { 'Content-Type': 'text/plain' }, 'not found');
    const st = statSync(path);
    const size = st.size;
    const etag = `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    Object.assign(headers, {
      'Content-Type': MIME[extname(path).toLowerCase()] ?? 'application/octet-stream',
      ETag: etag,
      'Last-Modified': st.mtime.toUTCString(),
      'Cache-Control': 'no-cache',
    });
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (!ifRange || ifRange === etag || ifRange === headers['Last-Modified'])) {
      if (range[1] === '') {
        start = Math.max(0, size - Number(range[2]));
      } else {
        start = Number(range[1]);
        if (range[2] !== '') end = Math.min(end, Number(range[2]));
      }
      if (start >= size || start > end) return done(416, { 'Content-Range': `bytes */${size}` });
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    } else if (req.headers['if-none-match'] === etag) {
      return done(304);
    }
    headers['Content-Length'] = end - start + 1;
    log?.(`${status} ${req.method} ${req.url}`);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) return res.end();
    createReadStream(path, { start, end }).on('error', () => res.destroy()).pipe(res);
  });
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const port = Number(arg('--port', process.env.PORT || 8080));
  const host = arg('--host', process.env.HOST || '127.0.0.1');
  const isolate = !process.argv.includes('--no-isolation');
  if (!existsSync(join(ROOT, 'dist', 'plm-simd.wasm'))) console.warn('warning: dist/*.wasm missing; build first (npm run build)');
  const server = createStaticServer({ isolate, log: process.argv.includes('--verbose') ? console.log : null });
  server.on('error', (e) => {
    console.error(e.code === 'EADDRINUSE' ? `port ${port} is in use; try --port ${port + 1} (or PORT=${port + 1})` : e.message);
    process.exit(1);
  });
  server.listen(port, host, () => {
    const shown = host === '0.0.0.0' || host === '127.0.0.1' ? 'localhost' : host;
    console.log(`plm-wasm demo: http://${shown}:${port}/web/`);
    console.log(`  embedding example: http://${shown}:${port}/web/embed.html`);
    console.log(isolate ? '  (cross-origin isolated: multi-threaded WebAssembly)' : '  (not cross-origin isolated: single-threaded)');
  });
}
