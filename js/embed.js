// embed.js — live models in any static page (documentation sites, blog posts),
// as custom elements. One script tag, then the elements:
//
//   <script type="module" src="…/plm-wasm/js/embed.js"></script>
//   <plm-generate model="models/gpt2-stories-F16.gguf" max-tokens="48">Once upon a time</plm-generate>
//   <plm-fill-mask model="bert.gguf">The capital of France is [MASK].</plm-fill-mask>
//   <plm-similarity model="bert.gguf">A cat sits.
//   A kitten is sitting.</plm-similarity>
//   <plm-text2text model="t5.gguf" beams="4">spell: 1234</plm-text2text>
//
// The element's text is the initial input (editable). Attributes: model (URL, hf://
// reference; required), autorun (run once when the page loads), preload (download the
// model right away instead of at the first run), and per element: max-tokens,
// temperature, top-k, seed (generate); top-k (fill-mask); beams, max-tokens (text2text).
// Elements with the same model share one loaded copy. Each run dispatches a
// `plm-result` event (detail: the result) and `plm-error` on failure. Style with CSS
// custom properties on the element: --plm-accent, --plm-bg, --plm-border, --plm-font.

import * as plm from './index.js';

const models = new Map(); // `${class}:${url}` -> Promise<model>

/** The shared model for (class, url): loaded once per page. */
export function sharedModel(Cls, url, onProgress) {
  const key = `${Cls.name}:${new URL(url, document.baseURI).href}`;
  let p = models.get(key);
  if (!p) {
    p = Cls.load(url.startsWith('hf://') ? url : new URL(url, document.baseURI).href, { onProgress: (e) => onProgress?.(e) });
    models.set(key, p);
    p.catch(() => models.delete(key));
  }
  return p;
}

const STYLE = `
:host { display: block; margin: 1em 0; font: 15px/1.5 var(--plm-font, system-ui, sans-serif); color: inherit; }
.box { border: 1px solid var(--plm-border, #d9dce6); border-radius: 10px; padding: 12px; background: var(--plm-bg, transparent); }
textarea { box-sizing: border-box; width: 100%; font: inherit; padding: 8px; border: 1px solid var(--plm-border, #d9dce6); border-radius: 8px; resize: vertical; background: transparent; color: inherit; }
.row { display: flex; align-items: center; gap: 10px; margin: 8px 0; flex-wrap: wrap; }
button { font: inherit; font-weight: 600; padding: 6px 14px; border-radius: 8px; border: 1px solid var(--plm-accent, #4f46e5); background: var(--plm-accent, #4f46e5); color: #fff; cursor: pointer; }
button.stop { background: transparent; color: var(--plm-accent, #4f46e5); }
button:disabled { opacity: .5; cursor: default; }
.status { font-size: 13px; opacity: .75; font-variant-numeric: tabular-nums; }
.out { white-space: pre-wrap; overflow-wrap: anywhere; min-height: 1.5em; }
.out b { font-weight: 700; }
.err { color: #b42318; }
table { border-collapse: separate; border-spacing: 3px; font-size: 13px; font-variant-numeric: tabular-nums; }
td { text-align: center; padding: 4px 8px; border-radius: 6px; }
th { font-weight: 600; opacity: .7; padding: 2px 6px; text-align: left; }
ol { margin: 0; padding-left: 1.4em; }
.bar { display: inline-block; height: 7px; border-radius: 4px; background: var(--plm-accent, #4f46e5); vertical-align: middle; margin: 0 8px; }
.credit { font-size: 11px; opacity: .55; text-align: right; }
`;

const MB = (n) => `${(n / 1e6).toFixed(1)} MB`;

class PlmElement extends HTMLElement {
  static Cls = null;
  static button = 'Run';

  #ready = false;
  connectedCallback() {
    if (this.#ready) return;
    this.#ready = true;
    const root = this.attachShadow({ mode: 'open' });
    const initial = this.textContent.replace(/^\s*\n|\n\s*$/g, '').replace(/^[ \t]+/gm, '');
    root.innerHTML = `<style>${STYLE}</style><div class="box" part="box">
      <textarea part="input" rows="${Math.min(6, Math.max(1, initial.split('\n').length))}" spellcheck="false"></textarea>
      <div class="row"><button part="button" class="run">${this.constructor.button}</button><span class="status" part="status"></span></div>
      <div class="out" part="output" aria-live="polite"></div>
      <div class="credit">runs in your browser · plm-wasm</div></div>`;
    this.input = root.querySelector('textarea');
    this.input.value = initial;
    this.runButton = root.querySelector('.run');
    this.statusEl = root.querySelector('.status');
    this.out = root.querySelector('.out');
    this.runButton.addEventListener('click', () => this.run());
    const Cls = this.constructor.Cls();
    if (!Cls) {
      this.runButton.disabled = true;
      this.status(`this build of plm-wasm has no ${this.constructor.kind} support`);
      return;
    }
    if (this.hasAttribute('preload') || this.hasAttribute('autorun')) this.model().catch(() => {});
    if (this.hasAttribute('autorun')) this.run();
  }

  num(name, fallback) {
    const v = this.getAttribute(name);
    return v === null || v === '' || Number.isNaN(Number(v)) ? fallback : Number(v);
  }

  status(text) {
    this.statusEl.textContent = text;
  }

  model() {
    const url = this.getAttribute('model');
    if (!url) return Promise.reject(new Error('the element has no model="…" attribute'));
    const t0 = performance.now();
    return sharedModel(this.constructor.Cls(), url, ({ loaded, total, phase }) => {
      this.status(phase === 'download' ? `loading ${MB(loaded)}${total ? ` of ${MB(total)}` : ''}…` : phase === 'parse' ? 'preparing…' : '');
    }).then((m) => {
      this.loadedModel = m;
      if (this.statusEl.textContent.startsWith('loading') || this.statusEl.textContent === 'preparing…') this.status(`ready (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      return m;
    });
  }

  async run() {
    if (this.running) return;
    this.running = true;
    this.runButton.disabled = true;
    this.dataset.state = 'running';
    try {
      const model = await this.model();
      const result = await this.compute(model, this.input.value);
      this.dataset.state = 'done';
      this.dispatchEvent(new CustomEvent('plm-result', { detail: result, bubbles: true }));
    } catch (e) {
      this.dataset.state = 'error';
      if (e?.name !== 'AbortError') {
        this.out.replaceChildren(Object.assign(document.createElement('span'), { className: 'err', textContent: e?.message ?? String(e) }));
        this.status('');
      }
      this.dispatchEvent(new CustomEvent('plm-error', { detail: e, bubbles: true }));
    } finally {
      this.running = false;
      this.runButton.disabled = false;
    }
  }
}

class PlmGenerate extends PlmElement {
  static Cls = () => plm.GPT;
  static kind = 'GPT';
  static button = 'Generate';

  async compute(gpt, prompt) {
    const stop = Object.assign(document.createElement('button'), { className: 'stop', textContent: 'Stop' });
    const ac = new AbortController();
    stop.addEventListener('click', () => ac.abort());
    this.runButton.after(stop);
    const gen = document.createElement('span');
    this.out.replaceChildren(Object.assign(document.createElement('b'), { textContent: prompt }), gen);
    const seed = this.getAttribute('seed');
    const o = {
      maxTokens: this.num('max-tokens', 64),
      temperature: this.num('temperature', 0.8),
      topK: this.num('top-k', 40),
      seed: seed === null ? undefined : Number(seed),
      signal: ac.signal,
    };
    let text = '';
    try {
      for await (const t of gpt.generate(prompt, o)) {
        text += t.text;
        gen.textContent = text;
      }
      const s = gpt.lastStats;
      this.status(`${s.generatedTokens} tokens · ${s.tokensPerSecond.toFixed(0)} tokens/s`);
    } catch (e) {
      if (!ac.signal.aborted) throw e;
      this.status('stopped');
    } finally {
      stop.remove();
    }
    return { prompt, text };
  }
}

class PlmFillMask extends PlmElement {
  static Cls = () => plm.BERT;
  static kind = 'BERT';
  static button = 'Fill';

  async compute(bert, text) {
    let res = await bert.fillMask(text, { topK: this.num('top-k', 5) });
    if (Array.isArray(res[0])) res = res[0];
    const best = res[0]?.score || 1;
    const ol = document.createElement('ol');
    for (const r of res) {
      const li = document.createElement('li');
      li.append(Object.assign(document.createElement('b'), { textContent: r.token }));
      const bar = Object.assign(document.createElement('span'), { className: 'bar' });
      bar.style.width = `${Math.max(2, (80 * r.score) / best).toFixed(0)}px`;
      li.append(bar, `${(r.score * 100).toFixed(1)}%`);
      ol.append(li);
    }
    this.out.replaceChildren(ol);
    this.status('');
    return res;
  }
}

class PlmSimilarity extends PlmElement {
  static Cls = () => plm.BERT;
  static kind = 'BERT';
  static button = 'Compare';

  async compute(bert, text) {
    const sentences = text.split('\n').map((s) => s.trim()).filter(Boolean);
    if (sentences.length < 2) throw new Error('write at least two sentences, one per line');
    const v = await bert.embed(sentences);
    const table = document.createElement('table');
    const matrix = sentences.map((_, i) => sentences.map((_, j) => bert.similarity(v[i], v[j])));
    sentences.forEach((s, i) => {
      const row = table.insertRow();
      row.append(Object.assign(document.createElement('th'), { textContent: s }));
      for (const x of matrix[i]) {
        const c = row.insertCell();
        c.textContent = x.toFixed(2);
        const a = Math.max(0, Math.min(1, (x + 1) / 2));
        c.style.background = `color-mix(in srgb, var(--plm-accent, #4f46e5) ${(a * a * 85).toFixed(0)}%, transparent)`;
      }
    });
    this.out.replaceChildren(table);
    this.status('');
    return { sentences, matrix };
  }
}

class PlmText2Text extends PlmElement {
  static Cls = () => plm.T5;
  static kind = 'T5';
  static button = 'Run';

  async compute(t5, text) {
    const r = await t5.complete(text, { numBeams: this.num('beams', 4), maxTokens: this.num('max-tokens', 64) });
    this.out.replaceChildren(Object.assign(document.createElement('b'), { textContent: r.text }));
    this.status('');
    return r;
  }
}

const ELEMENTS = { 'plm-generate': PlmGenerate, 'plm-fill-mask': PlmFillMask, 'plm-similarity': PlmSimilarity, 'plm-text2text': PlmText2Text };
for (const [name, Cls] of Object.entries(ELEMENTS)) if (!customElements.get(name)) customElements.define(name, Cls);

export { PlmGenerate, PlmFillMask, PlmSimilarity, PlmText2Text };
