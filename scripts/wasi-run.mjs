#!/usr/bin/env node
// wasi-run.mjs — run a wasm32-wasi command program (the C unit tests of the relaxed-SIMD build,
// see cmake/relaxed.cmake) in Node, with the current directory as "." and a fresh temporary
// directory as "/tmp".
//
//   node scripts/wasi-run.mjs build-wasm/relaxed/test_ops.wasm [args...]
//
// Why not node:wasi: Node 20's WASI keeps the memory's backing store from the start and reads or
// writes the freed one after memory.grow (a segfault at exit, or lost output). This host takes
// `memory.buffer` afresh on every call. It implements the calls wasi-libc makes for stdio, fopen /
// fread / fwrite / fseek / remove and exit; every other call returns ENOSYS.

import { closeSync, constants as C, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { RELAXED_PROBE } from '../js/core/runtime.js';

// Node 20 (V8 11.3) runs relaxed SIMD only behind a flag; V8 reads it at compile time.
if (!WebAssembly.validate(RELAXED_PROBE)) setFlagsFromString('--experimental-wasm-relaxed-simd');

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/wasi-run.mjs program.wasm [args...]');
  process.exit(2);
}

// WASI errno values
const E = { SUCCESS: 0, ACCES: 2, BADF: 8, EXIST: 20, INVAL: 28, IO: 29, ISDIR: 31, NOENT: 44, NOSYS: 52, NOTDIR: 54, NOTEMPTY: 55 };
const ERRNO = { EACCES: E.ACCES, EPERM: E.ACCES, EEXIST: E.EXIST, EISDIR: E.ISDIR, ENOENT: E.NOENT, ENOTDIR: E.NOTDIR, ENOTEMPTY: E.NOTEMPTY, EBADF: E.BADF, EINVAL: E.INVAL };
const errno = (e) => ERRNO[e?.code] ?? E.IO;
const FILETYPE = { CHAR: 2, DIR: 3, FILE: 4 };
const RIGHTS_ALL = 0x1fffffffn;
const RIGHT_READ = 1n << 1n, RIGHT_WRITE = 1n << 6n;

class Exit {
  constructor(code) {
    this.code = code;
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'plm-wasi-'));
// fd -> { kind: 'std' | 'dir' | 'file', host, name, path, pos, append }
const fds = new Map([
  [0, { kind: 'std', host: 0 }],
  [1, { kind: 'std', host: 1 }],
  [2, { kind: 'std', host: 2 }],
  [3, { kind: 'dir', name: '.', path: process.cwd() }],
  [4, { kind: 'dir', name: '/tmp', path: tmp }],
]);
let nextFd = 5;

let memory;
const u8 = () => new Uint8Array(memory.buffer);
const dv = () => new DataView(memory.buffer);
const str = (ptr, len) => new TextDecoder().decode(u8().slice(ptr, ptr + len));

function iovecs(iovs, n) {
  const view = dv();
  const out = [];
  for (let i = 0; i < n; i++) out.push([view.getUint32(iovs + 8 * i, true), view.getUint32(iovs + 8 * i + 4, true)]);
  return out;
}

/** Host path of `rel` under preopened directory fd `dirfd`; null when it would leave it. */
function hostPath(dirfd, rel) {
  const d = fds.get(dirfd);
  if (!d || d.kind !== 'dir') return null;
  const p = resolve(d.path, rel);
  return p === d.path || p.startsWith(d.path + sep) ? p : null;
}

const wasi = {
  args_sizes_get(argcPtr, sizePtr) {
    const args = [file, ...rest];
    dv().setUint32(argcPtr, args.length, true);
    dv().setUint32(sizePtr, args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0), true);
    return E.SUCCESS;
  },
  args_get(argvPtr, bufPtr) {
    let p = bufPtr;
    [file, ...rest].forEach((a, i) => {
      const b = Buffer.from(a + '\0');
      dv().setUint32(argvPtr + 4 * i, p, true);
      u8().set(b, p);
      p += b.length;
    });
    return E.SUCCESS;
  },
  environ_sizes_get(countPtr, sizePtr) {
    dv().setUint32(countPtr, 0, true);
    dv().setUint32(sizePtr, 0, true);
    return E.SUCCESS;
  },
  environ_get: () => E.SUCCESS,
  clock_time_get(id, precision, timePtr) {
    const ns = id === 0 ? BigInt(Date.now()) * 1000000n : process.hrtime.bigint();
    dv().setBigUint64(timePtr, ns, true);
    return E.SUCCESS;
  },
  fd_prestat_get(fd, buf) {
    const d = fds.get(fd);
    if (!d || d.kind !== 'dir') return E.BADF;
    dv().setUint8(buf, 0);
    dv().setUint32(buf + 4, Buffer.byteLength(d.name), true);
    return E.SUCCESS;
  },
  fd_prestat_dir_name(fd, ptr, len) {
    const d = fds.get(fd);
    if (!d || d.kind !== 'dir') return E.BADF;
    u8().set(Buffer.from(d.name).subarray(0, len), ptr);
    return E.SUCCESS;
  },
  fd_fdstat_get(fd, buf) {
    const f = fds.get(fd);
    if (!f) return E.BADF;
    const view = dv();
    view.setUint8(buf, f.kind === 'std' ? FILETYPE.CHAR : f.kind === 'dir' ? FILETYPE.DIR : FILETYPE.FILE);
    view.setUint16(buf + 2, f.append ? 1 : 0, true);
    view.setBigUint64(buf + 8, RIGHTS_ALL, true);
    view.setBigUint64(buf + 16, RIGHTS_ALL, true);
    return E.SUCCESS;
  },
  fd_fdstat_set_flags: (fd) => (fds.has(fd) ? E.SUCCESS : E.BADF),
  path_open(dirfd, dirflags, pathPtr, pathLen, oflags, rightsBase, rightsInh, fdflags, fdOut) {
    const p = hostPath(dirfd, str(pathPtr, pathLen));
    if (p === null) return fds.has(dirfd) ? E.ACCES : E.BADF;
    const rd = (rightsBase & RIGHT_READ) !== 0n, wr = (rightsBase & RIGHT_WRITE) !== 0n;
    let flags = wr ? (rd ? C.O_RDWR : C.O_WRONLY) : C.O_RDONLY;
    if (oflags & 1) flags |= C.O_CREAT;
    if (oflags & 2) flags |= C.O_DIRECTORY;
    if (oflags & 4) flags |= C.O_EXCL;
    if (oflags & 8) flags |= C.O_TRUNC;
    try {
      const host = openSync(p, flags, 0o644);
      const isDir = fstatSync(host).isDirectory();
      const fd = nextFd++;
      fds.set(fd, isDir ? { kind: 'dir', name: p, path: p, host } : { kind: 'file', host, pos: 0, append: (fdflags & 1) !== 0 });
      dv().setUint32(fdOut, fd, true);
      return E.SUCCESS;
    } catch (e) {
      return errno(e);
    }
  },
  fd_read(fd, iovs, n, nreadPtr) {
    const f = fds.get(fd);
    if (!f || f.kind === 'dir') return E.BADF;
    let total = 0;
    try {
      for (const [ptr, len] of iovecs(iovs, n)) {
        if (len === 0) continue;
        const got = readSync(f.host, u8(), ptr, len, f.kind === 'file' ? f.pos : null);
        if (f.kind === 'file') f.pos += got;
        total += got;
        if (got < len) break;
      }
    } catch (e) {
      return errno(e);
    }
    dv().setUint32(nreadPtr, total, true);
    return E.SUCCESS;
  },
  fd_write(fd, iovs, n, nwrittenPtr) {
    const f = fds.get(fd);
    if (!f || f.kind === 'dir') return E.BADF;
    let total = 0;
    try {
      for (const [ptr, len] of iovecs(iovs, n)) {
        const bytes = u8().slice(ptr, ptr + len);
        if (f.kind === 'std') {
          for (let off = 0; off < len; ) off += writeSync(f.host, bytes, off);
        } else {
          if (f.append) f.pos = fstatSync(f.host).size;
          for (let off = 0; off < len; ) off += writeSync(f.host, bytes, off, len - off, f.pos + off);
          f.pos += len;
        }
        total += len;
      }
    } catch (e) {
      return errno(e);
    }
    dv().setUint32(nwrittenPtr, total, true);
    return E.SUCCESS;
  },
  fd_seek(fd, offset, whence, newPtr) {
    const f = fds.get(fd);
    if (!f || f.kind !== 'file') return f ? E.INVAL : E.BADF;
    const base = whence === 0 ? 0 : whence === 1 ? f.pos : fstatSync(f.host).size;
    const pos = base + Number(offset);
    if (pos < 0) return E.INVAL;
    f.pos = pos;
    dv().setBigUint64(newPtr, BigInt(pos), true);
    return E.SUCCESS;
  },
  fd_close(fd) {
    const f = fds.get(fd);
    if (!f || fd < 3) return f ? E.SUCCESS : E.BADF;
    if (f.host !== undefined) closeSync(f.host);
    fds.delete(fd);
    return E.SUCCESS;
  },
  path_unlink_file(dirfd, pathPtr, pathLen) {
    const p = hostPath(dirfd, str(pathPtr, pathLen));
    if (p === null) return E.ACCES;
    try {
      unlinkSync(p);
      return E.SUCCESS;
    } catch (e) {
      return errno(e);
    }
  },
  path_remove_directory(dirfd, pathPtr, pathLen) {
    const p = hostPath(dirfd, str(pathPtr, pathLen));
    if (p === null) return E.ACCES;
    try {
      rmdirSync(p);
      return E.SUCCESS;
    } catch (e) {
      return errno(e);
    }
  },
  proc_exit(code) {
    throw new Exit(code);
  },
};

const module = new WebAssembly.Module(readFileSync(file));
const imports = { wasi_snapshot_preview1: {} };
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.module !== 'wasi_snapshot_preview1' || imp.kind !== 'function') {
    console.error(`wasi-run: ${file} imports ${imp.module}.${imp.name} (${imp.kind}), which this host does not provide`);
    process.exit(2);
  }
  imports.wasi_snapshot_preview1[imp.name] = wasi[imp.name] ?? (() => E.NOSYS);
}
const instance = new WebAssembly.Instance(module, imports);
memory = instance.exports.memory;
let code = 0;
try {
  instance.exports._start();
} catch (e) {
  if (!(e instanceof Exit)) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  code = e.code;
}
rmSync(tmp, { recursive: true, force: true });
process.exitCode = code;
