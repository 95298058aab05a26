// host.js — the model worker's side of the page <-> worker protocol (the page's
// side is remote.js). One worker holds one model. Messages (t = type):
//
//   page -> worker                               worker -> page
//   load  { id, cls, options, shards }           progress { fn, args } (callbacks)
//   chunk { file, size, bytes } (transferred)    ack { n, buffer }        (bytes consumed; the buffer back, transferred)
//   end   { file }   eof {}                      filedone { file }        (loader needs no more of it)
//   call  { id, method, args }                   result { id, value, state }
//   iter  { id, method, args, credit }           yield { id, value }  done { id, state }
//   credit { id, n }  return { id }              error { id, error }
//   abort { signal, reason }  dispose {}
//
// The file's bytes arrive as transferred chunks and go through the ordinary
// loader (source.js) into this worker's wasm memory; chunks are acknowledged
// once consumed so the page keeps only a bounded window in flight.

import { decodeArgs, encodeError, snapshot, transferables } from './wire.js';

class Queue {
  #items = [];
  #waiters = [];
  push(x) {
    const w = this.#waiters.shift();
    if (w) w(x);
    else this.#items.push(x);
  }
  shift() {
    if (this.#items.length) return Promise.resolve(this.#items.shift());
    return new Promise((r) => this.#waiters.push(r));
  }
}

const END = Symbol('end');

/** The port of the worker this code runs in (a module Web Worker). */
export function workerScopePort() {
  return {
    post: (m, transfer) => self.postMessage(m, transfer ?? []),
    onMessage: (f) => (self.onmessage = (e) => f(e.data)),
  };
}

/**
 * Serve one model over `port` ({ post(msg, transfer), onMessage(fn) }).
 * `classes`: the model classes this worker can load (found by their static exportName).
 */
export function serve(classes, port) {
  let model = null;
  const files = []; // per shard: { queue, closed }
  const signals = new Map(); // id -> AbortController
  const iters = new Map(); // id -> { credit, wake, stop }

  const post = (msg, transfer) => {
    if (transfer?.length) {
      try {
        port.post(msg, transfer);
        return;
      } catch {
        // not transferable after all: copy
      }
    }
    port.post(msg);
  };
  const state = () => (model ? snapshot(model) : null);

  const makeRef = (kind, id) => {
    if (kind === 'signal') {
      let c = signals.get(id);
      if (!c) signals.set(id, (c = new AbortController()));
      return c.signal;
    }
    if (kind === 'fn') return (...args) => post({ t: 'callback', fn: id, args });
    throw new Error(`unknown reference kind ${kind}`);
  };

  function fileShard(i, name) {
    const file = { queue: new Queue(), closed: false };
    files[i] = file;
    return {
      name,
      size: undefined,
      owned: false, // (each chunk's buffer goes back to the page for reuse once consumed)
      async *open() {
        try {
          for (;;) {
            const m = await file.queue.shift();
            if (m === END) return;
            if (m.error) throw m.error;
            if (this.size === undefined && m.size !== undefined) this.size = m.size;
            try {
              yield m.bytes;
            } finally {
              const { buffer } = m.bytes;
              post({ t: 'ack', n: m.bytes.length, buffer }, [buffer]);
            }
          }
        } finally {
          if (!file.closed) {
            file.closed = true;
            post({ t: 'filedone', file: i });
          }
        }
      },
    };
  }

  async function load(m) {
    const Cls = classes.find((c) => typeof c === 'function' && Object.hasOwn(c, 'exportName') && c.exportName === m.cls);
    if (typeof Cls?.load !== 'function') throw new Error(`this build of plm-wasm has no model class ${m.cls}`);
    const source = { name: m.name, shards: m.shards.map((s, i) => fileShard(i, s.name)) };
    const options = decodeArgs(m.options, makeRef);
    model = await Cls.load(source, { ...options, worker: false });
    return { state: state() };
  }

  async function runIter(m) {
    const it = model[m.method](...decodeArgs(m.args, makeRef))[Symbol.asyncIterator]();
    const ctl = { credit: m.credit, wake: null, stop: false };
    iters.set(m.id, ctl);
    try {
      for (;;) {
        while (ctl.credit <= 0 && !ctl.stop) await new Promise((r) => (ctl.wake = r));
        if (ctl.stop) {
          await it.return?.();
          post({ t: 'done', id: m.id, state: state() });
          return;
        }
        const r = await it.next();
        if (r.done) {
          post({ t: 'done', id: m.id, value: r.value, state: state() });
          return;
        }
        ctl.credit--;
        post({ t: 'yield', id: m.id, value: r.value }, [...transferables(r.value)]);
      }
    } catch (e) {
      post({ t: 'error', id: m.id, error: encodeError(e) });
    } finally {
      iters.delete(m.id);
    }
  }

  const handlers = {
    async load(m) {
      try {
        const value = await load(m);
        post({ t: 'result', id: m.id, value });
      } catch (e) {
        post({ t: 'error', id: m.id, error: encodeError(e) });
      }
    },
    chunk(m) {
      const f = files[m.file];
      if (!f || f.closed) post({ t: 'ack', n: m.bytes.length }); // the loader is past this file
      else f.queue.push(m);
    },
    end(m) {
      files[m.file]?.queue.push(END);
    },
    eof(m) {
      if (m.error) for (const f of files) f?.queue.push({ error: new Error(m.error.message) });
    },
    async call(m) {
      try {
        if (!model) throw new Error('no model loaded in this worker');
        const fn = model[m.method];
        if (typeof fn !== 'function' || m.method.startsWith('_')) throw new TypeError(`${model.constructor.name} has no method ${m.method}`);
        const value = await fn.apply(model, decodeArgs(m.args, makeRef));
        post({ t: 'result', id: m.id, value, state: state() }, [...transferables(value)]);
      } catch (e) {
        post({ t: 'error', id: m.id, error: encodeError(e) });
      }
    },
    iter(m) {
      if (!model) return post({ t: 'error', id: m.id, error: encodeError(new Error('no model loaded in this worker')) });
      runIter(m);
    },
    credit(m) {
      const c = iters.get(m.id);
      if (c) {
        c.credit += m.n;
        c.wake?.();
      }
    },
    return(m) {
      const c = iters.get(m.id);
      if (c) {
        c.stop = true;
        c.wake?.();
      }
    },
    abort(m) {
      let c = signals.get(m.signal);
      if (!c) signals.set(m.signal, (c = new AbortController()));
      const reason = typeof DOMException === 'function' ? new DOMException(m.reason?.message ?? 'aborted', m.reason?.name ?? 'AbortError') : new Error(m.reason?.message ?? 'aborted');
      c.abort(reason);
    },
    release(m) {
      signals.delete(m.signal);
    },
    dispose() {
      model?.dispose();
      model = null;
      post({ t: 'disposed' });
    },
  };

  port.onMessage((m) => handlers[m?.t]?.(m));
  post({ t: 'ready' });
}
