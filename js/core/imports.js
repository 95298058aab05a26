// imports.js — the import object for plm's standalone wasm modules.
//
// The modules are built with -sSTANDALONE_WASM: no Emscripten JS glue, only a
// handful of imports (wasi_snapshot_preview1.fd_write for printf, the
// memory-growth notification, env.memory for the shared-memory build). We
// build the object from WebAssembly.Module.imports(), so a module that grows a
// new import still instantiates; an import we do not know throws when called.
//
// Shared by the main thread and the thread-pool workers: no platform imports.

const ENOSYS = 52; // WASI errno
const decoder = new TextDecoder();

/** Copy bytes out of (possibly shared) wasm memory: TextDecoder refuses SharedArrayBuffer views in browsers. */
export function readBytes(memory, ptr, len) {
  return new Uint8Array(memory.buffer, ptr, len).slice();
}

function lineSink(write) {
  let pending = '';
  return {
    push(text) {
      pending += text;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        write(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    },
  };
}

/**
 * @param {WebAssembly.Module} module
 * @param {{ memory?: WebAssembly.Memory, getMemory: () => WebAssembly.Memory,
 *           onMemoryGrowth?: () => void, log?: (s: string) => void, error?: (s: string) => void }} host
 */
export function makeImports(module, host) {
  const out = lineSink(host.log ?? ((s) => console.log(s)));
  const err = lineSink(host.error ?? ((s) => console.error(s)));
  const mem = () => host.getMemory();
  const dv = () => new DataView(mem().buffer);

  const known = {
    env: {
      emscripten_notify_memory_growth() {
        host.onMemoryGrowth?.();
      },
      emscripten_memcpy_big(dst, src, n) {
        const u8 = new Uint8Array(mem().buffer);
        u8.copyWithin(dst >>> 0, src >>> 0, (src >>> 0) + (n >>> 0));
        return dst;
      },
      abort() {
        throw new Error('plm: wasm abort()');
      },
    },
    wasi_snapshot_preview1: {
      fd_write(fd, iovs, iovsLen, nwrittenPtr) {
        const view = dv();
        let total = 0;
        let text = '';
        for (let i = 0; i < iovsLen; i++) {
          const ptr = view.getUint32((iovs >>> 0) + i * 8, true);
          const len = view.getUint32((iovs >>> 0) + i * 8 + 4, true);
          text += decoder.decode(readBytes(mem(), ptr, len), { stream: true });
          total += len;
        }
        (fd === 2 ? err : out).push(text);
        view.setUint32(nwrittenPtr >>> 0, total, true);
        return 0;
      },
      proc_exit(code) {
        throw new Error(`plm: wasm called exit(${code})`);
      },
      clock_time_get(clockId, precision, timePtr) {
        const ns = clockId === 0 ? BigInt(Date.now()) * 1000000n : BigInt(Math.round(performance.now() * 1e6));
        dv().setBigUint64(timePtr >>> 0, ns, true);
        return 0;
      },
      random_get(ptr, len) {
        const bytes = new Uint8Array(len >>> 0);
        for (let off = 0; off < bytes.length; off += 65536) crypto.getRandomValues(bytes.subarray(off, off + 65536));
        new Uint8Array(mem().buffer, ptr >>> 0, bytes.length).set(bytes);
        return 0;
      },
      environ_sizes_get(countPtr, sizePtr) {
        const view = dv();
        view.setUint32(countPtr >>> 0, 0, true);
        view.setUint32(sizePtr >>> 0, 0, true);
        return 0;
      },
      environ_get() {
        return 0;
      },
    },
  };

  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const ns = (imports[imp.module] ??= {});
    if (imp.kind === 'memory') {
      if (!host.memory) throw new Error(`plm: module imports memory ${imp.module}.${imp.name} but none was given`);
      ns[imp.name] = host.memory;
    } else if (imp.kind === 'function') {
      const fn = known[imp.module]?.[imp.name];
      if (fn) ns[imp.name] = fn;
      else if (imp.module === 'wasi_snapshot_preview1') ns[imp.name] = () => ENOSYS;
      else if (imp.name.startsWith('__syscall_')) ns[imp.name] = () => -ENOSYS;
      else
        ns[imp.name] = () => {
          throw new Error(`plm: wasm import ${imp.module}.${imp.name} is not provided by the JS host`);
        };
    } else {
      throw new Error(`plm: unsupported wasm import ${imp.module}.${imp.name} (${imp.kind})`);
    }
  }
  return imports;
}

/**
 * Body of one thread-pool worker (Web Worker or Node worker_threads): instantiate the main
 * thread's module on the same shared memory, move the stack to the block the main instance
 * allocated for this thread, report ready, then enter plm_thread_worker(index), which never
 * returns (the main thread terminates the worker on dispose). No _initialize: constructors
 * ran on the main instance, and a shared memory's data segments are initialised once, by the
 * first instance. post({ type: 'ready' | 'error', message }) talks to the main thread.
 */
export function runPoolThread({ module, memory, stackTop, index }, post) {
  try {
    const imports = makeImports(module, {
      memory,
      getMemory: () => memory,
      log: (s) => console.log(`[plm ${index}] ${s}`),
      error: (s) => console.error(`[plm ${index}] ${s}`),
    });
    const { exports } = new WebAssembly.Instance(module, imports);
    exports.stackRestore(stackTop);
    post({ type: 'ready' });
    exports.plm_thread_worker(index);
  } catch (err) {
    post({ type: 'error', message: err?.message ?? String(err) });
  }
}
