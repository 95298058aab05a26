// server.mjs — static files for the browser benchmark, cross-origin isolated
// (COOP same-origin + COEP require-corp: SharedArrayBuffer, i.e. wasm threads, for
// every engine). Serves only local files; nothing is fetched from the network.
//
//   /            bench/compare/web/      (the harness page)
//   /repo/       the repository root (or startServer's repo option)     (dist/*.wasm, js/ — plm-wasm as a browser would load it)
//   /nm/         bench/compare/node_modules (wllama, transformers.js, onnxruntime-web)
//   /models/     bench/compare/work/     (gguf/, onnx/)
//
//   node bench/compare/server.mjs [port]      (or import { startServer })

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const mounts = (repo) => [
  ['/repo/', repo ?? path.join(HERE, '..', '..')],
  ['/nm/', path.join(HERE, 'node_modules')],
  ['/models/', path.join(HERE, 'work')],
  ['/', path.join(HERE, 'web')],
];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

function resolve(MOUNTS, urlPath) {
  for (const [prefix, dir] of MOUNTS) {
    if (!urlPath.startsWith(prefix)) continue;
    const rel = decodeURIComponent(urlPath.slice(prefix.length));
    const file = path.resolve(dir, rel);
    if (!file.startsWith(path.resolve(dir))) return null; // no escaping the mount
    return file;
  }
  return null;
}

export function startServer(port = 0, { log = false, repo } = {}) {
  const MOUNTS = mounts(repo);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = resolve(MOUNTS, url.pathname);
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': 'no-store',
      'Accept-Ranges': 'bytes',
    };
    let st;
    try {
      st = file && fs.statSync(file);
    } catch {
      st = null;
    }
    if (!st || !st.isFile()) {
      if (log) console.error(`404 ${req.url}`);
      res.writeHead(404, headers).end('not found');
      return;
    }
    headers['Content-Type'] = TYPES[path.extname(file)] ?? 'application/octet-stream';
    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      if (range[1]) start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]));
      if (!range[1] && range[2]) [start, end] = [st.size - Number(range[2]), st.size - 1];
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['Content-Length'] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startServer(Number(process.argv[2] ?? 8093), { log: true });
  console.log(`http://127.0.0.1:${server.address().port}/`);
}
