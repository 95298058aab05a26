#!/usr/bin/env node
// serve.mjs — static server for the demo page (npm start), with the COOP/COEP
// headers that make the page cross-origin isolated (needed for threads).
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT || 8080);
if (!existsSync(join(root, 'web', 'index.html'))) {
  console.log('The demo page (web/) is not in this version yet. Meanwhile: npm run demo (CLI).');
  process.exit(0);
}
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.gguf': 'application/octet-stream', '.svg': 'image/svg+xml', '.png': 'image/png' };
createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let path = normalize(join(root, decodeURIComponent(url.pathname)));
  if (!path.startsWith(root)) return res.writeHead(403).end();
  if (url.pathname === '/') path = join(root, 'web', 'index.html');
  if (!existsSync(path) || !statSync(path).isFile()) return res.writeHead(404).end('not found');
  res.writeHead(200, {
    'Content-Type': TYPES[extname(path)] || 'application/octet-stream',
    'Content-Length': statSync(path).size,
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
  });
  createReadStream(path).pipe(res);
}).listen(port, () => console.log(`demo: http://localhost:${port}/`));
