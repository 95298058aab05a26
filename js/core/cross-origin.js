// cross-origin.js — module workers whose script is on another origin (the package
// served from a CDN): browsers refuse `new Worker(crossOriginUrl)`, so a same-origin
// blob script imports the real one (fetched with CORS, as module imports are).

/**
 * Whether a worker script at `url` is on another origin than this page / worker. (A
 * cross-origin `new Worker(url)` throws a SecurityError on a page, but inside a worker
 * Firefox fails it later, with an error event: so ask first.)
 */
export function isCrossOrigin(url) {
  const here = globalThis.location?.origin;
  return typeof here === 'string' && here !== 'null' && new URL(url).origin !== here;
}

export function crossOriginWorker(url, options) {
  const src = `import ${JSON.stringify(String(url))};`;
  const blob = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
  try {
    return new Worker(blob, options);
  } finally {
    setTimeout(() => URL.revokeObjectURL(blob), 60000);
  }
}
