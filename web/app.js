// app.js — the demo page: three panels (GPT-2 / LLaMA generation, BERT similarity
// and fill-mask, T5 text-to-text), each with a model picker. Models run in a Web
// Worker (the library's default on a page); with cross-origin isolation (COOP/COEP
// headers, as `npm start` serves them) the worker uses the multi-threaded build.
import * as plm from '../js/index.js';

const { GPT, BERT, ModelCache, detectFeatures } = plm;
const T5 = plm.T5; // (absent from builds without T5)

const $ = (sel, root = document) => root.querySelector(sel);
const MB = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`);
const params = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(n < 1e7 ? 2 : 0)}M` : `${Math.round(n / 1e3)}K`);
const num = (el, fallback) => {
  const v = Number(el.value);
  return el.value === '' || Number.isNaN(v) ? fallback : v;
};

function runtimeText(rt) {
  if (!rt) return '';
  const threads = rt.threads > 1 ? `${rt.threads} threads` : '1 thread';
  return `${rt.build} · ${threads}${rt.worker ? ' · in a worker' : ''}`;
}

// ------------------------------------------------------------------ model picker

class ModelSlot {
  constructor(el, { kind, Cls, choices }) {
    this.el = el;
    this.kind = kind;
    this.Cls = Cls;
    this.model = null;
    this.url = null;
    this.loading = null;
    el.append($('#slot-template').content.cloneNode(true));
    this.select = $('.slot-select', el);
    this.custom = $('.slot-custom', el);
    this.input = $('.slot-url', el);
    this.bar = $('.progress', el);
    this.status = $('.slot-status', el);
    this.error = $('.slot-error', el);
    this.loadBtn = $('.slot-load', el);
    this.setState('idle');
    if (!Cls) {
      this.select.disabled = this.loadBtn.disabled = true;
      for (const b of el.closest('.panel').querySelectorAll('button')) b.disabled = true;
      this.fail(new Error(`This build of plm-wasm has no ${kind.toUpperCase()} support yet.`));
      this.ready = Promise.resolve();
      return;
    }
    this.ready = this.#fill(choices);
    this.select.addEventListener('change', () => {
      this.custom.hidden = this.select.value !== 'custom';
      if (this.select.value === 'custom') this.input.focus();
    });
    this.loadBtn.addEventListener('click', () => this.load().catch(() => {}));
    this.input.addEventListener('keydown', (e) => e.key === 'Enter' && this.load().catch(() => {}));
  }

  async #fill(choices) {
    // offer only the files this server has (the trained demo models may not be built yet)
    const present = await Promise.all(
      choices.map((c) =>
        fetch(c.url, { method: 'HEAD' })
          .then((r) => r.ok)
          .catch(() => false),
      ),
    );
    for (const [i, c] of choices.entries()) {
      if (!present[i]) continue;
      this.select.append(new Option(c.name, new URL(c.url, location.href).href));
    }
    this.select.append(new Option('Custom URL…', 'custom'));
    this.custom.hidden = this.select.options.length > 1;
  }

  selectedUrl() {
    if (this.select.value !== 'custom') return this.select.value;
    const v = this.input.value.trim();
    if (!v) throw new Error('Enter the URL of a GGUF file.');
    return v;
  }

  setState(s) {
    this.el.dataset.state = s;
  }

  fail(e) {
    this.setState('error');
    this.error.hidden = false;
    this.error.textContent = e?.message ?? String(e);
    this.status.textContent = '';
  }

  /** The loaded model for the selected file (loads it if needed). */
  async ensure() {
    await this.ready;
    const url = this.selectedUrl();
    if (this.model && this.url === url) return this.model;
    if (this.loading && this.loadingUrl === url) return this.loading;
    return this.load();
  }

  load() {
    let url;
    try {
      url = this.selectedUrl();
    } catch (e) {
      this.fail(e);
      return Promise.reject(e);
    }
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    this.model?.dispose();
    this.model = null;
    this.url = null;
    this.error.hidden = true;
    this.setState('loading');
    this.bar.hidden = false;
    this.bar.firstElementChild.style.width = '0%';
    this.status.textContent = 'Starting…';
    this.loadBtn.disabled = true;
    const t0 = performance.now();
    const onProgress = ({ loaded, total, phase }) => {
      if (ac.signal.aborted) return;
      const frac = total ? loaded / total : 0;
      this.bar.firstElementChild.style.width = `${Math.round(frac * 100)}%`;
      this.status.textContent =
        phase === 'download' ? `Loading ${MB(loaded)}${total ? ` of ${MB(total)}` : ''}…` : phase === 'parse' ? 'Preparing the model…' : 'Ready';
    };
    this.loadingUrl = url;
    this.loading = this.Cls.load(url, { onProgress, signal: ac.signal }).then(
      (model) => {
        if (ac.signal.aborted) {
          model.dispose();
          throw ac.signal.reason;
        }
        this.model = model;
        this.url = url;
        this.loading = null;
        this.loadBtn.disabled = false;
        this.bar.hidden = true;
        this.setState('ready');
        const i = model.info;
        const secs = ((performance.now() - t0) / 1000).toFixed(2);
        this.status.textContent = `${i.name || i.architecture} · ${i.architecture} · ${params(i.nParams)} params · ${i.fileType} · ${runtimeText(model.runtime)} · loaded in ${secs} s`;
        showRuntime(model.runtime);
        refreshCache();
        return model;
      },
      (e) => {
        if (this.abort === ac) {
          this.loading = null;
          this.loadBtn.disabled = false;
          this.bar.hidden = true;
          this.fail(e);
        }
        throw e;
      },
    );
    return this.loading;
  }
}

// ------------------------------------------------------------------ page

let choices = { gpt: [], bert: [], t5: [], chat: [] };
try {
  choices = await (await fetch('models.json')).json();
} catch {
  // no manifest: custom URLs only
}

const slots = {
  gpt: new ModelSlot($('[data-slot=gpt]'), { kind: 'gpt', Cls: GPT, choices: choices.gpt }),
  bert: new ModelSlot($('[data-slot=bert]'), { kind: 'bert', Cls: BERT, choices: choices.bert }),
  t5: new ModelSlot($('[data-slot=t5]'), { kind: 't5', Cls: T5, choices: choices.t5 }),
  chat: new ModelSlot($('[data-slot=chat]'), { kind: 'chat', Cls: GPT, choices: choices.chat ?? [] }),
};

function showRuntime(rt) {
  const f = detectFeatures();
  const iso = globalThis.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated';
  const el = $('#runtime');
  el.textContent = rt ? `${runtimeText(rt)} · ${iso}` : `WebAssembly SIMD ${f.simd ? 'yes' : 'no'} · relaxed SIMD ${f.relaxedSimd ? 'yes' : 'no'} · threads ${f.threads ? `yes (${f.hardwareConcurrency} cores)` : 'no'} · ${iso}`;
  el.dataset.threads = rt?.threads ?? '';
}
showRuntime(null);

// tabs
const tabs = [...document.querySelectorAll('[role=tab]')];
function activate(tab, focus = false) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(`#${t.getAttribute('aria-controls')}`).hidden = !on;
  }
  if (focus) tab.focus();
  const kind = $(`#${tab.getAttribute('aria-controls')}`).dataset.kind;
  history.replaceState(null, '', `#${kind}`);
  const slot = slots[kind];
  // load the panel's default model the first time it is shown
  slot.ready.then(() => {
    if (!slot.model && !slot.loading && slot.Cls && slot.select.value !== 'custom') slot.load().catch(() => {});
  });
}
for (const t of tabs) {
  t.addEventListener('click', () => activate(t));
  t.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(t);
    if (e.key === 'ArrowRight') activate(tabs[(i + 1) % tabs.length], true);
    if (e.key === 'ArrowLeft') activate(tabs[(i + tabs.length - 1) % tabs.length], true);
  });
}
activate(tabs.find((t) => `#${$(`#${t.getAttribute('aria-controls')}`).dataset.kind}` === location.hash) ?? tabs[0]);

function busy(button, on) {
  button.disabled = on;
  button.classList.toggle('busy', on);
}

function showError(out, e) {
  out.replaceChildren(Object.assign(document.createElement('p'), { className: 'error', textContent: e?.message ?? String(e) }));
}

// ------------------------------------------------------------------ Chat panel

{
  const send = $('#chat-send');
  const stop = $('#chat-stop');
  const reset = $('#chat-reset');
  const log = $('#chat-log');
  const input = $('#chat-input');
  const stats = $('#chat-stats');
  let history = []; // user / assistant turns (the system prompt is added per request)
  let ac = null;
  const bubble = (role, text = '') => {
    const el = Object.assign(document.createElement('div'), { className: `msg ${role}` });
    el.dataset.role = role;
    const body = Object.assign(document.createElement('div'), { className: 'body', textContent: text });
    el.append(body);
    log.querySelector('.hint')?.remove();
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return { el, body };
  };
  const ask = async () => {
    const text = input.value.trim();
    if (!text) return;
    busy(send, true);
    stop.disabled = false;
    stats.textContent = '';
    ac = new AbortController();
    bubble('user', text);
    history.push({ role: 'user', content: text });
    input.value = '';
    const { el, body } = bubble('assistant');
    let thinking = null;
    let content = '';
    let reasoning = '';
    try {
      const model = await slots.chat.ensure();
      const system = $('#chat-system').value.trim();
      const messages = [...(system ? [{ role: 'system', content: system }] : []), ...history];
      const opts = { maxTokens: num($('#chat-max'), 128), temperature: num($('#chat-temp'), 0), contextShift: true, signal: ac.signal };
      for await (const c of model.chatStream(messages, opts)) {
        if (c.reasoning) {
          if (!thinking) {
            thinking = Object.assign(document.createElement('details'), { className: 'reasoning' });
            thinking.append(Object.assign(document.createElement('summary'), { textContent: 'Thinking' }), document.createElement('pre'));
            el.insertBefore(thinking, body);
          }
          reasoning += c.text;
          thinking.lastElementChild.textContent = reasoning.trim();
        } else {
          content += c.text;
          body.textContent = content;
        }
        log.scrollTop = log.scrollHeight;
      }
      const s = model.lastStats;
      stats.textContent = `${s.generatedTokens} tokens · ${s.tokensPerSecond.toFixed(0)} tokens/s · prompt ${s.promptTokens} tokens (${s.cachedTokens} reused)`;
      el.dataset.state = 'done';
    } catch (e) {
      if (ac.signal.aborted) {
        el.dataset.state = 'stopped';
        body.textContent = content + ' [stopped]';
      } else {
        el.dataset.state = 'error';
        body.textContent = e?.message ?? String(e);
        body.classList.add('error');
      }
    } finally {
      history.push({ role: 'assistant', content, ...(reasoning ? { reasoning_content: reasoning.trim() } : {}) });
      busy(send, false);
      stop.disabled = true;
      ac = null;
    }
  };
  send.addEventListener('click', ask);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      if (!send.disabled) ask();
    }
  });
  stop.addEventListener('click', () => ac?.abort());
  reset.addEventListener('click', () => {
    ac?.abort();
    history = [];
    log.replaceChildren();
    stats.textContent = '';
  });
}

// ------------------------------------------------------------------ GPT panel

{
  const run = $('#gpt-run');
  const stop = $('#gpt-stop');
  const out = $('#gpt-output');
  const stats = $('#gpt-stats');
  let ac = null;
  run.addEventListener('click', async () => {
    busy(run, true);
    stop.disabled = false;
    stats.textContent = '';
    out.dataset.state = 'running';
    ac = new AbortController();
    const prompt = $('#gpt-prompt').value;
    const promptEl = Object.assign(document.createElement('span'), { className: 'prompt', textContent: prompt });
    const gen = Object.assign(document.createElement('span'), { className: 'generated' });
    const caret = Object.assign(document.createElement('span'), { className: 'caret' });
    out.replaceChildren(promptEl, gen, caret);
    const t0 = performance.now();
    let n = 0;
    try {
      const model = await slots.gpt.ensure();
      const seed = $('#gpt-seed').value === '' ? undefined : num($('#gpt-seed'), 0);
      const opts = { maxTokens: num($('#gpt-max'), 96), temperature: num($('#gpt-temp'), 0.8), topK: num($('#gpt-topk'), 40), seed, signal: ac.signal };
      const start = performance.now();
      for await (const { text } of model.generate(prompt, opts)) {
        gen.textContent += text;
        n++;
        if (n % 4 === 0) stats.textContent = `${n} tokens · ${((n * 1000) / (performance.now() - start)).toFixed(0)} tokens/s`;
      }
      const s = model.lastStats;
      stats.textContent = `${s.generatedTokens} tokens · ${s.tokensPerSecond.toFixed(0)} tokens/s · prompt ${s.promptTokens} tokens in ${s.prefillMs.toFixed(0)} ms`;
      out.dataset.state = 'done';
    } catch (e) {
      if (ac.signal.aborted) {
        stats.textContent = `stopped after ${n} tokens · ${((performance.now() - t0) / 1000).toFixed(1)} s`;
        out.dataset.state = 'stopped';
      } else {
        showError(out, e);
        out.dataset.state = 'error';
      }
    } finally {
      caret.remove();
      busy(run, false);
      stop.disabled = true;
    }
  });
  stop.addEventListener('click', () => ac?.abort());
  $('#gpt-prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run.click();
  });
}

// ------------------------------------------------------------------ BERT panel

{
  const simBtn = $('#bert-sim');
  const matrix = $('#bert-matrix');
  simBtn.addEventListener('click', async () => {
    busy(simBtn, true);
    matrix.dataset.state = 'running';
    try {
      const bert = await slots.bert.ensure();
      const sentences = $('#bert-sentences').value.split('\n').map((s) => s.trim()).filter(Boolean);
      if (sentences.length < 2) throw new Error('Enter at least two sentences, one per line.');
      const t0 = performance.now();
      const vecs = await bert.embed(sentences);
      const ms = performance.now() - t0;
      const table = document.createElement('table');
      table.className = 'matrix';
      const head = table.createTHead().insertRow();
      head.append(document.createElement('th'));
      sentences.forEach((_, j) => head.append(Object.assign(document.createElement('th'), { textContent: `${j + 1}`, scope: 'col' })));
      const body = table.createTBody();
      sentences.forEach((s, i) => {
        const row = body.insertRow();
        row.append(Object.assign(document.createElement('th'), { scope: 'row', innerHTML: `<span class="idx">${i + 1}</span> ` }));
        row.firstChild.append(document.createTextNode(s));
        sentences.forEach((_, j) => {
          const v = bert.similarity(vecs[i], vecs[j]);
          const cell = row.insertCell();
          cell.textContent = v.toFixed(3);
          cell.dataset.value = String(v);
          const a = Math.max(0, Math.min(1, (v + 1) / 2));
          cell.style.setProperty('--a', a.toFixed(3));
          if (i === j) cell.classList.add('diag');
        });
      });
      matrix.replaceChildren(table);
      $('#bert-sim-stats').textContent = `${sentences.length} embeddings (${vecs[0].length} dims) in ${ms.toFixed(0)} ms`;
      matrix.dataset.state = 'done';
    } catch (e) {
      showError(matrix, e);
      matrix.dataset.state = 'error';
    } finally {
      busy(simBtn, false);
    }
  });

  const fillBtn = $('#bert-fill');
  const fills = $('#bert-fills');
  fillBtn.addEventListener('click', async () => {
    busy(fillBtn, true);
    fills.dataset.state = 'running';
    try {
      const bert = await slots.bert.ensure();
      const t0 = performance.now();
      let res = await bert.fillMask($('#bert-mask').value, { topK: 5 });
      if (Array.isArray(res[0])) res = res[0]; // several masks: the first one
      const ms = performance.now() - t0;
      const best = res[0]?.score || 1;
      fills.replaceChildren(
        ...res.map((r) => {
          const li = document.createElement('li');
          li.dataset.token = r.token;
          li.dataset.score = String(r.score);
          const word = Object.assign(document.createElement('span'), { className: 'word', textContent: r.token });
          const bar = Object.assign(document.createElement('span'), { className: 'scorebar' });
          bar.style.setProperty('--w', `${Math.max(2, (r.score / best) * 100).toFixed(1)}%`);
          const score = Object.assign(document.createElement('span'), { className: 'score', textContent: `${(r.score * 100).toFixed(1)}%` });
          const seq = Object.assign(document.createElement('span'), { className: 'sequence', textContent: r.sequence });
          li.append(word, bar, score, seq);
          return li;
        }),
      );
      $('#bert-fill-stats').textContent = `${ms.toFixed(0)} ms`;
      fills.dataset.state = 'done';
    } catch (e) {
      fills.replaceChildren(Object.assign(document.createElement('li'), { className: 'error', textContent: e?.message ?? String(e) }));
      fills.dataset.state = 'error';
    } finally {
      busy(fillBtn, false);
    }
  });
}

// ------------------------------------------------------------------ T5 panel

{
  const run = $('#t5-run');
  const out = $('#t5-output');
  for (const chip of document.querySelectorAll('#t5-examples .chip'))
    chip.addEventListener('click', () => {
      $('#t5-input').value = chip.textContent;
      run.click();
    });
  run.addEventListener('click', async () => {
    busy(run, true);
    out.dataset.state = 'running';
    try {
      const t5 = await slots.t5.ensure();
      const t0 = performance.now();
      const r = await t5.complete($('#t5-input').value, { numBeams: num($('#t5-beams'), 4), maxTokens: num($('#t5-max'), 48) });
      const ms = performance.now() - t0;
      out.replaceChildren(Object.assign(document.createElement('p'), { className: 'answer', textContent: r.text }));
      $('#t5-stats').textContent = `${r.tokens.length} tokens in ${ms.toFixed(0)} ms`;
      out.dataset.state = 'done';
    } catch (e) {
      showError(out, e);
      out.dataset.state = 'error';
    } finally {
      busy(run, false);
    }
  });
}

// ------------------------------------------------------------------ cache

async function refreshCache() {
  const list = $('#cache-list');
  let items = [];
  try {
    items = await ModelCache.list();
  } catch {
    // no Cache Storage here (e.g. not a secure context)
  }
  list.replaceChildren(
    ...items.map(({ url, size }) => {
      const li = document.createElement('li');
      const name = Object.assign(document.createElement('span'), { className: 'cache-name', textContent: decodeURIComponent(new URL(url).pathname.split('/').pop()), title: url });
      const sz = Object.assign(document.createElement('span'), { className: 'cache-size', textContent: MB(size ?? 0) });
      const del = Object.assign(document.createElement('button'), { className: 'secondary small-btn', textContent: 'Delete' });
      del.addEventListener('click', async () => {
        await ModelCache.delete(url);
        refreshCache();
      });
      li.append(name, sz, del);
      return li;
    }),
  );
  if (!items.length) list.append(Object.assign(document.createElement('li'), { className: 'small', textContent: 'Nothing cached yet.' }));
  $('#cache summary').textContent = `Cached models (${items.length})`;
}
$('#cache-clear').addEventListener('click', async () => {
  await ModelCache.clear();
  refreshCache();
});
refreshCache();

// for the browser tests and the curious
globalThis.plmDemo = { slots, plm };
