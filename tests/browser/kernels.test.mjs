// The C kernel tests of the relaxed-SIMD build (build-wasm/relaxed/test_ops.wasm, a wasm32-wasi
// program, see cmake/relaxed.cmake) run in the browsers' engines: Node 20's V8 computes the relaxed
// i8 dot product wrongly, so there the relaxed kernels fall back to SIMD128 and only a browser
// checks them against their scalar twins (qgemm_variants_bit_exact, qgemm_q8_0_all_weight_codes).
// The page gives the program a small WASI host: stdout / stderr, and read-only files of the
// repository fetched by synchronous XHR.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../js/loader_server.mjs';
import { ROOT, BROWSERS, launch, newPage, unavailable } from './harness.mjs';

const PROGRAM = 'build-wasm/relaxed/test_ops.wasm';
const skips = Object.fromEntries(await Promise.all(BROWSERS.map(async (b) => [b, (await unavailable(b)) || (existsSync(join(ROOT, PROGRAM)) ? false : `${PROGRAM} not built (clang-19 and wasi-libc missing?)`)])));

// Runs in the page: instantiate the WASI program and run it; returns { code, out }.
async function runWasi(url) {
  const E = { SUCCESS: 0, BADF: 8, INVAL: 28, NOENT: 44, NOSYS: 52 };
  const module = await WebAssembly.compile(await (await fetch(url)).arrayBuffer());
  let memory;
  let out = '';
  const fds = new Map([[3, { dir: true, name: '.' }]]);
  let next = 4;
  const u8 = () => new Uint8Array(memory.buffer);
  const dv = () => new DataView(memory.buffer);
  const iovs = (p, n) => Array.from({ length: n }, (_, i) => [dv().getUint32(p + 8 * i, true), dv().getUint32(p + 8 * i + 4, true)]);
  class Exit { constructor(code) { this.code = code; } }
  const wasi = {
    fd_prestat_get(fd, buf) {
      const d = fds.get(fd);
      if (!d?.dir) return E.BADF;
      dv().setUint8(buf, 0);
      dv().setUint32(buf + 4, d.name.length, true);
      return E.SUCCESS;
    },
    fd_prestat_dir_name(fd, ptr, len) {
      const d = fds.get(fd);
      if (!d?.dir) return E.BADF;
      u8().set(new TextEncoder().encode(d.name).subarray(0, len), ptr);
      return E.SUCCESS;
    },
    fd_fdstat_get(fd, buf) {
      if (fd > 2 && !fds.has(fd)) return E.BADF;
      dv().setUint8(buf, fd <= 2 ? 2 : fds.get(fd).dir ? 3 : 4);
      dv().setUint16(buf + 2, 0, true);
      dv().setBigUint64(buf + 8, 0x1fffffffn, true);
      dv().setBigUint64(buf + 16, 0x1fffffffn, true);
      return E.SUCCESS;
    },
    fd_fdstat_set_flags: () => E.SUCCESS,
    path_open(dirfd, dirflags, pathPtr, pathLen, oflags, rightsBase, rightsInh, fdflags, fdOut) {
      if (!fds.get(dirfd)?.dir) return E.BADF;
      if (oflags !== 0 || (rightsBase & (1n << 6n))) return E.NOSYS; // read-only host
      const path = new TextDecoder().decode(u8().slice(pathPtr, pathPtr + pathLen));
      const xhr = new XMLHttpRequest();
      xhr.open('GET', `/${path}`, false);
      xhr.overrideMimeType('text/plain; charset=x-user-defined');
      xhr.send();
      if (xhr.status !== 200) return E.NOENT;
      const data = Uint8Array.from(xhr.responseText, (c) => c.charCodeAt(0) & 255);
      const fd = next++;
      fds.set(fd, { data, pos: 0 });
      dv().setUint32(fdOut, fd, true);
      return E.SUCCESS;
    },
    fd_read(fd, iov, n, nread) {
      const f = fds.get(fd);
      if (!f?.data) return E.BADF;
      let total = 0;
      for (const [p, len] of iovs(iov, n)) {
        const chunk = f.data.subarray(f.pos, f.pos + len);
        u8().set(chunk, p);
        f.pos += chunk.length;
        total += chunk.length;
        if (chunk.length < len) break;
      }
      dv().setUint32(nread, total, true);
      return E.SUCCESS;
    },
    fd_seek(fd, offset, whence, newPos) {
      const f = fds.get(fd);
      if (!f?.data) return E.BADF;
      const pos = (whence === 0 ? 0 : whence === 1 ? f.pos : f.data.length) + Number(offset);
      if (pos < 0) return E.INVAL;
      f.pos = pos;
      dv().setBigUint64(newPos, BigInt(pos), true);
      return E.SUCCESS;
    },
    fd_write(fd, iov, n, nwritten) {
      if (fd !== 1 && fd !== 2) return E.BADF;
      let total = 0;
      for (const [p, len] of iovs(iov, n)) {
        out += new TextDecoder().decode(u8().slice(p, p + len));
        total += len;
      }
      dv().setUint32(nwritten, total, true);
      return E.SUCCESS;
    },
    fd_close: (fd) => (fds.delete(fd) || fd <= 2 ? E.SUCCESS : E.BADF),
    proc_exit(code) {
      throw new Exit(code);
    },
  };
  const imports = { wasi_snapshot_preview1: {} };
  for (const imp of WebAssembly.Module.imports(module)) imports.wasi_snapshot_preview1[imp.name] = wasi[imp.name] ?? (() => E.NOSYS);
  const instance = new WebAssembly.Instance(module, imports);
  memory = instance.exports.memory;
  let code = 0;
  try {
    instance.exports._start();
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    code = e.code;
  }
  return { code, out };
}

for (const name of BROWSERS) {
  const skip = skips[name];
  describe(name, { skip }, () => {
    let srv, browser, page;
    before(async () => {
      if (skip) return;
      srv = await startServer({ root: ROOT });
      browser = await launch({ browser: name });
      page = await newPage(browser.context);
      await page.goto(srv.url('tests/browser/page.html'));
    });
    after(async () => {
      await browser?.close();
      await srv?.close();
    });

    test('relaxed-SIMD build: the C kernel tests (relaxed kernels vs their scalar twins)', { skip, timeout: 300000 }, async () => {
      const { code, out } = await page.evaluate(`(${runWasi.toString()})('/${PROGRAM}')`);
      const relaxedLine = out.split('\n').find((l) => l.includes('relaxed i8 dot of this engine')) ?? '';
      console.log(`    ${name}: ${relaxedLine.trim()}; ${out.trim().split('\n').pop()}`);
      assert.equal(code, 0, out);
      assert.match(out, /ok {3}qgemm_variants_bit_exact/);
      assert.match(out, /ok {3}qgemm_q8_0_all_weight_codes/);
      // Chromium's V8 computes the relaxed dot exactly: the relaxed kernels must have run
      if (name === 'chromium') assert.match(relaxedLine, /exact, relaxed kernels tested/);
    });
  });
}
