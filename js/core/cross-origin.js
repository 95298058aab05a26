// cross-origin.js — module workers whose script is on another origin (the package
// served from a CDN): browsers refuse `new Worker(crossOriginUrl)`, so a same-origin
// blob script imports the real one (fetched with CORS, as module imports are).

export function crossOriginWorker(url, options) {
  const src = `import ${JSON.stringify(String(url))};`;
  const blob = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
  try {
    return new Worker(blob, options);
  } finally {
    setTimeout(() => URL.revokeObjectURL(blob), 60000);
  }
}
