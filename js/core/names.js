// names.js — model file names: Hugging Face references and llama.cpp's split naming.

/**
 * hf://owner/repo/path/file.gguf (optionally owner/repo@revision/...) -> the
 * Hugging Face download URL https://huggingface.co/owner/repo/resolve/<revision>/path/file.gguf.
 */
export function resolveHfUrl(name, { hfEndpoint = 'https://huggingface.co' } = {}) {
  const m = /^hf:\/\/([^/@\s]+)\/([^/@\s]+)(?:@([^/\s]+))?\/(.+)$/.exec(name);
  if (!m) throw new TypeError(`not a Hugging Face file reference: ${name} (expected hf://owner/repo/file.gguf or hf://owner/repo@revision/file.gguf)`);
  const [, owner, repo, revision = 'main', path] = m;
  const enc = (s) => s.split('/').map(encodeURIComponent).join('/');
  return new URL(`${hfEndpoint.replace(/\/+$/, '')}/${enc(owner)}/${enc(repo)}/resolve/${encodeURIComponent(revision)}/${enc(path)}`);
}

const SPLIT = /^(.*)-00001-of-(\d{5})\.gguf((?:[?#].*)?)$/;

/** llama.cpp's split naming: the first file's name -> the names of all N files (else null). */
export function splitNames(name) {
  const m = SPLIT.exec(name);
  if (!m) return null;
  const n = Number(m[2]);
  if (!(n >= 1)) return null;
  return Array.from({ length: n }, (_, i) => `${m[1]}-${String(i + 1).padStart(5, '0')}-of-${m[2]}.gguf${m[3]}`);
}

/** A scheme-qualified URL (not a Windows drive path such as C:\\models). */
export function isUrlString(s) {
  return /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s);
}

/**
 * The URLs a string / URL input stands for (hf:// resolved, relative names against
 * baseUrl or the page, split names expanded), or null when it is not a URL (a path).
 */
export function urlsOf(input, { baseUrl, hfEndpoint } = {}) {
  const name = String(input);
  const names = splitNames(name) ?? [name];
  const out = [];
  for (const n of names) {
    if (n.startsWith('hf://')) out.push(resolveHfUrl(n, { hfEndpoint }));
    else if (isUrlString(n)) out.push(new URL(n));
    else {
      const base = baseUrl ?? globalThis.document?.baseURI ?? globalThis.location?.href;
      if (!base) return null;
      out.push(new URL(n, base));
    }
  }
  return out;
}
