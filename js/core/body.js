// body.js — a response body (a ReadableStream of bytes) read chunk by chunk: the model
// download (fetch.js) and cached copies (cache.js) read through it.

const READ_BUFFER = 1 << 20; // bytes per read of a body read into one reused buffer

/**
 * A reader of `body` and a read() that yields views of one reused buffer where the
 * engine can (a "bytes" stream read with a BYOB reader: no garbage per chunk, so the
 * page's memory stays at the file's size in wasm plus this buffer), else the stream's
 * own fresh chunks. `reused` says which (views must be consumed before the next read).
 */
export function bodyReader(body) {
  let reader = null;
  try {
    reader = body.getReader({ mode: 'byob' });
  } catch {
    // (not a byte stream: engines before readable byte streams, custom fetch functions)
  }
  if (!reader) {
    const r = body.getReader();
    return { reused: false, read: () => r.read(), cancel: () => r.cancel() };
  }
  let buffer = null; // (allocated at the first read)
  return {
    reused: true,
    async read() {
      const r = await reader.read(new Uint8Array(buffer ?? new ArrayBuffer(READ_BUFFER)));
      if (r.value) buffer = r.value.buffer; // (the same memory, handed back)
      if (!r.done && r.value.length === 0) return this.read();
      return r;
    },
    cancel: () => reader.cancel(),
  };
}
