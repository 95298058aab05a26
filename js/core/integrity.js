// integrity.js — the `integrity` load option: the SHA-256 a model file must have.
//
//   GPT.load(url, { integrity: 'sha256-<base64>' })    Subresource Integrity form
//   GPT.load(url, { integrity: 'sha256:<hex>' })       the hex SHA-256 Hugging Face shows for LFS files
//   GPT.load([a, b], { integrity: [ia, ib] })          split models: one per file, in order
//
// The hash is computed while the file streams (sha256.js, or node:crypto in Node), so the
// whole file is read even when the loader needs less of it; a mismatch is a PlmError that
// names the file and both hashes, and nothing is cached (fetch.js checks before it commits
// the cached copy; cached copies keep their hash and are re-checked against it).

import { PlmError } from './engine.js';
import { Status } from './abi.js';
import { platform } from './platform.js';
import { Sha256, toHex } from './sha256.js';

/** A SHA-256 hasher: { update(u8), digest() -> Uint8Array, copy() }. */
export function newSha256() {
  return platform.newSha256?.() ?? new Sha256();
}

const b64ToHex = (s) => {
  let bin;
  try {
    bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return null;
  }
  return Array.from(bin, (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
};

/**
 * One file's expected hash: 'sha256-<base64>' (SRI; several space-separated
 * entries: any sha256 one), 'sha256:<hex>' or a bare 64-digit hex string.
 * Returns { hex, text } (text: the form given, for messages).
 */
export function parseIntegrity(value, what = 'integrity') {
  if (typeof value !== 'string') throw new TypeError(`${what}: expected a string such as 'sha256-<base64>' or 'sha256:<hex>'`);
  const others = [];
  for (const tok of value.trim().split(/\s+/)) {
    const t = tok.replace(/\?.*$/, ''); // (SRI options)
    let m;
    if ((m = /^sha256-([A-Za-z0-9+/_-]{43}=?)$/.exec(t))) {
      const hex = b64ToHex(m[1]);
      if (hex && hex.length === 64) return { hex, text: tok };
    } else if ((m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(t))) {
      return { hex: m[1].toLowerCase(), text: tok };
    } else if (/^sha(384|512)[-:]/.test(t)) {
      others.push(t.slice(0, 6));
    }
  }
  throw new TypeError(
    `${what}: '${value}' is not a SHA-256 hash ('sha256-<base64, 44 characters>' or 'sha256:<64 hex digits>')` +
      (others.length ? `; ${others[0]} is not supported, give the file's SHA-256` : ''),
  );
}

/** options.integrity for the i-th of n files (arrays for split models); undefined when none. */
export function integrityFor(options, i, n) {
  const v = options?.integrity;
  if (v == null) return undefined;
  if (Array.isArray(v)) {
    if (v.length !== n) throw new TypeError(`integrity: ${v.length} hashes for ${n} model file${n === 1 ? '' : 's'} (give one per file, in order)`);
    return v[i] == null ? undefined : parseIntegrity(v[i], `integrity[${i}]`);
  }
  if (n !== 1) throw new TypeError(`integrity: the model has ${n} files; give an array of ${n} hashes, one per file`);
  return parseIntegrity(v);
}

export const sriOf = (hex) => 'sha256-' + btoa(String.fromCharCode(...hex.match(/../g).map((h) => parseInt(h, 16))));

export function mismatchError(name, expected, actualHex) {
  return new PlmError(
    `${name}: integrity check failed: expected SHA-256 ${expected.hex} (${expected.text}), the file has ${actualHex} (${sriOf(actualHex)}); ` +
      'the file was not used nor cached',
    Status.FORMAT,
  );
}

/**
 * A shard (any source: bytes, Blob, file path) whose open() checks the file's hash:
 * read to the end even when the consumer stops early, then compared (a mismatch
 * throws). HTTP shards check the hash themselves (before caching): fetch.js.
 */
export function verifiedShard(shard, expected) {
  let consumerDone = false;
  return {
    ...shard,
    get size() {
      return shard.size;
    },
    set size(v) {
      shard.size = v;
    },
    finished() {
      consumerDone = true;
      shard.finished?.();
    },
    async *open(signal) {
      consumerDone = false;
      const h = newSha256();
      const it = shard.open(signal)[Symbol.asyncIterator]();
      let done = false;
      let failed = false;
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) {
            done = true;
            break;
          }
          h.update(r.value);
          yield r.value;
        }
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        if (!failed && !signal?.aborted && (done || consumerDone)) {
          // (the consumer has what it needs before the end: hash the rest)
          while (!done) {
            const r = await it.next();
            if (r.done) done = true;
            else h.update(r.value);
          }
          const got = toHex(h.digest());
          if (got !== expected.hex) throw mismatchError(shard.name, expected, got);
        } else await it.return?.();
      }
    },
  };
}

export { toHex };
