// The demo page (web/) in headless Chromium and Firefox, served by scripts/serve.mjs with and
// without cross-origin isolation: every shipped model loads from models/, generates /
// embeds / fills masks / runs text-to-text, and the outputs equal the Node API's for
// the same inputs. Screenshots of each panel (desktop and phone) go to tests/out/browser/<browser>/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as plm from '../../js/node.js';
import { convert } from '../../js/convert/index.js';
import { createStaticServer } from '../../scripts/serve.mjs';
import { startServer } from '../js/loader_server.mjs';
import { ROOT, OUT, BROWSERS, launch, newPage, outPath as outFile, unavailable } from './harness.mjs';

const skips = Object.fromEntries(await Promise.all(BROWSERS.map(async (b) => [b, (await unavailable(b)) || false])));
const skip = BROWSERS.every((b) => skips[b]);
const manifest = JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'web', 'models.json'), 'utf8'));
const present = (list) => list.filter((m) => existsSync(join(ROOT, 'web', m.url)));
const GPTS = present(manifest.gpt);
const BERTS = present(manifest.bert);
const T5S = present(manifest.t5);
const CHATS = present(manifest.chat ?? []);
const CHAT_Q = 'What is 7 plus 12?';
const CHAT_SYSTEM = 'You are a helpful assistant.';
const PROMPT = 'Once upon a time';
const MAX = 40;
const SENTENCES = ['The capital of France is Paris.', 'Paris is the capital city of France.', 'The dog says woof.', 'A puppy barks: woof!'];
const MASKED = 'The capital of France is [MASK].';
const T5_INPUT = 'spell: 1234';
const fileOf = (m) => join(ROOT, 'web', m.url);
// The trained demo models' fixed held-out checks (tests/fixtures/models/*.json, as in
// tests/js/models.test.mjs), run on the model the page loaded.
const fixture = (name) => JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'models', `${name}.json`), 'utf8'));
const TRAINED = { bert: fixture('bert-facts'), t5: fixture('t5-tasks'), chat: CHATS.length ? fixture('gpt2-chat') : null };
const trained = (kind, m) => m.url.endsWith(`/models/${TRAINED[kind].gguf}`);

// A BERT with the masked-LM head loaded by a custom URL: the fixture's HF folder through
// the project's converter (the trained bert-facts model is checked in its own panel run).
const HEADS = join(OUT, 'models', 'tiny-bert-heads-F32.gguf');
const HEADS_URL = '/tests/out/browser/models/tiny-bert-heads-F32.gguf';

const ref = { gpt: new Map(), bert: new Map(), fill: null, t5: new Map(), chat: new Map() };

before(async () => {
  if (skip) return;
  mkdirSync(join(OUT, 'models'), { recursive: true });
  await convert(join(ROOT, 'tests', 'fixtures', 'bert', 'hf'), HEADS, { type: 'F32' });
  // the Node API's answers (in-thread, default build)
  for (const m of GPTS) {
    const gpt = await plm.GPT.load(fileOf(m));
    ref.gpt.set(m.url, (await gpt.complete(PROMPT, { maxTokens: MAX, temperature: 0 })).text);
    gpt.dispose();
  }
  for (const m of BERTS) {
    const bert = await plm.BERT.load(fileOf(m));
    const v = await bert.embed(SENTENCES);
    ref.bert.set(m.url, v.map((a) => v.map((b) => bert.similarity(a, b))));
    bert.dispose();
  }
  const heads = await plm.BERT.load(HEADS);
  ref.fill = await heads.fillMask(MASKED, { topK: 5 });
  heads.dispose();
  for (const m of CHATS) {
    const gpt = await plm.GPT.load(fileOf(m));
    const r = await gpt.chat([{ role: 'system', content: CHAT_SYSTEM }, { role: 'user', content: CHAT_Q }], { temperature: 0, maxTokens: 128 });
    ref.chat.set(m.url, r.message);
    gpt.dispose();
  }
  if (plm.T5)
    for (const m of T5S) {
      const t5 = await plm.T5.load(fileOf(m));
      ref.t5.set(m.url, (await t5.complete(T5_INPUT, { numBeams: 4, maxTokens: 48 })).text);
      t5.dispose();
    }
});

async function serve(isolate) {
  const requests = [];
  const server = createStaticServer({ isolate, log: (l) => requests.push(l) });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${server.address().port}`, requests, close: () => new Promise((r) => server.close(r)) };
}

/** Select a model in a panel's picker (by manifest URL or a custom URL) and wait until it is loaded.
 * Showing a panel starts loading its default model, and the Load button is disabled meanwhile, so wait
 * for the slot to be idle first. (A load that Firefox stalls recovers by itself within ~30 s: the
 * loader's read timeout and worker start timeout, README "Build and test"; 90 s is the limit here.) */
async function pick(page, kind, url, { custom = false } = {}) {
  const abs = await page.evaluate((u) => new URL(u, location.href).href, url);
  const idle = () =>
    page.waitForFunction((k) => {
      const s = globalThis.plmDemo?.slots[k];
      return s && !s.loading && !s.loadBtn.disabled;
    }, kind, { timeout: 120000 });
  await idle();
  if (custom) {
    await page.selectOption(`[data-slot=${kind}] .slot-select`, 'custom');
    await page.fill(`[data-slot=${kind}] .slot-url`, abs);
  } else {
    await page.selectOption(`[data-slot=${kind}] .slot-select`, abs);
  }
  await page.click(`[data-slot=${kind}] .slot-load`);
  try {
    await page.waitForFunction(
      ([k, u]) => {
        const s = globalThis.plmDemo?.slots[k];
        return (s?.model && s.url === u) || s?.el.dataset.state === 'error';
      },
      [kind, abs],
      { timeout: 90000 },
    );
  } catch (e) {
    const state = await page.evaluate((k) => {
      const s = globalThis.plmDemo?.slots[k];
      return JSON.stringify({ state: s?.el.dataset.state, status: s?.status.textContent, url: s?.url, loadingUrl: s?.loadingUrl, loading: !!s?.loading });
    }, kind);
    assert.fail(`${kind} model ${url}: not loaded after 90 s (${state}): ${e.message}`);
  }
  const err = await page.$eval(`[data-slot=${kind}] .slot-error`, (e) => (e.hidden ? '' : e.textContent));
  assert.equal(err, '', `${kind} model ${url} failed to load`);
}

async function tab(page, kind) {
  await page.click(`#tab-${kind}`);
  await page.waitForSelector(`#panel-${kind}:not([hidden])`);
}

async function waitDone(page, sel) {
  await page.waitForSelector(`${sel}[data-state=done], ${sel}[data-state=error], ${sel}[data-state=stopped]`, { timeout: 120000 });
  const state = await page.$eval(sel, (e) => e.dataset.state);
  if (state === 'error') assert.fail(`${sel}: ${await page.textContent(sel)}`);
  return state;
}

for (const name of BROWSERS) for (const isolate of [true, false]) {
  const mode = isolate ? 'isolated' : 'plain';
  const outPath = (f) => outFile(f, name);
  test(`${name}: demo page (${isolate ? 'cross-origin isolated: threads' : 'not isolated: single thread'})`, { skip: skips[name], timeout: 600000 }, async (t) => {
    const srv = await serve(isolate);
    const browser = await launch({ browser: name });
    t.diagnostic(`${name} ${browser.version}`);
    try {
      const page = await newPage(browser.context);
      await page.goto(`${srv.origin}/`); // redirects to /web/ (the page then names its open tab: #gpt)
      assert.match(page.url(), /\/web\/(#gpt)?$/);
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), isolate);

      // ---- GPT / LLaMA: every shipped model, greedy, = Node
      await page.waitForFunction(() => globalThis.plmDemo?.slots.gpt.model, null, { timeout: 120000 });
      const rt = await page.evaluate(() => globalThis.plmDemo.slots.gpt.model.runtime);
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      assert.equal(rt.worker, true, 'the model runs in a worker');
      // Chromium has relaxed SIMD (on by default since 114): the worker runs the relaxed builds
      if (isolate) assert.deepEqual([rt.build, rt.threads], ['relaxed-mt', cores]);
      else assert.deepEqual([rt.build, rt.threads], ['relaxed', 1]);
      assert.match(await page.textContent('#runtime'), isolate ? /^relaxed-mt · / : /^relaxed · /, 'the page reports the build');
      await page.fill('#gpt-temp', '0');
      await page.fill('#gpt-max', String(MAX));
      await page.fill('#gpt-prompt', PROMPT);
      for (const m of GPTS) {
        await pick(page, 'gpt', m.url);
        await page.click('#gpt-run');
        await waitDone(page, '#gpt-output');
        const text = await page.$eval('#gpt-output .generated', (e) => e.textContent);
        assert.equal(text, ref.gpt.get(m.url), `${m.url}: page and Node generate the same text`);
        assert.match(await page.textContent('#gpt-stats'), /^\d+ tokens · \d+ tokens\/s/);
      }
      await pick(page, 'gpt', GPTS[0].url);
      await page.click('#gpt-run');
      await waitDone(page, '#gpt-output');
      await page.screenshot({ path: outPath(`gpt-${mode}.png`), fullPage: true });
      // sampling and the stop button
      await page.fill('#gpt-temp', '0.8');
      await page.fill('#gpt-max', '2000');
      // (the small models are fast: press Stop from the page as soon as text arrives)
      await page.evaluate(() => {
        const out = document.querySelector('#gpt-output');
        new MutationObserver((_, o) => {
          if (out.querySelector('.generated')?.textContent) {
            o.disconnect();
            document.querySelector('#gpt-stop').click();
          }
        }).observe(out, { subtree: true, childList: true, characterData: true });
      });
      await page.click('#gpt-run');
      assert.equal(await waitDone(page, '#gpt-output'), 'stopped');
      assert.match(await page.textContent('#gpt-stats'), /^stopped after \d+ tokens/);

      // ---- BERT: similarity matrix = Node's, fill-mask = Node's
      await tab(page, 'bert');
      for (const m of BERTS) {
        await pick(page, 'bert', m.url);
        await page.fill('#bert-sentences', SENTENCES.join('\n'));
        await page.click('#bert-sim');
        await waitDone(page, '#bert-matrix');
        const got = await page.$$eval('#bert-matrix tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => Number(c.dataset.value))));
        const want = ref.bert.get(m.url);
        assert.equal(got.length, want.length);
        for (let i = 0; i < want.length; i++) for (let j = 0; j < want.length; j++) assert.ok(Math.abs(got[i][j] - want[i][j]) < 1e-6, `${m.url} sim[${i}][${j}]: ${got[i][j]} vs ${want[i][j]}`);
        if (!trained('bert', m)) continue;
        // the trained model: fill-mask in the panel, then the held-out masked set and similarity triplets
        await page.fill('#bert-mask', MASKED);
        await page.click('#bert-fill');
        await waitDone(page, '#bert-fills');
        assert.equal(await page.$eval('#bert-fills li', (l) => l.dataset.token), 'paris');
        const exp = TRAINED.bert;
        const res = await page.evaluate(async ({ rows, trip }) => {
          const bert = globalThis.plmDemo.slots.bert.model;
          let hit = 0;
          for (const r of rows) if ((await bert.fillMask(r.text, { topK: 5 })).some((f) => f.token === r.answer)) hit++;
          let closer = 0;
          for (const t of trip) {
            const [a, p, u] = await bert.embed([t.anchor, t.same_fact, t.unrelated]);
            if (bert.similarity(a, p) > bert.similarity(a, u)) closer++;
          }
          return { hit, closer };
        }, { rows: exp.fill_mask_heldout, trip: exp.similarity_triplets });
        assert.ok(res.hit / exp.fill_mask_heldout.length >= 0.8, `held-out top-5: ${res.hit}/${exp.fill_mask_heldout.length}`);
        assert.ok(res.closer / exp.similarity_triplets.length >= 0.9, `same fact closer: ${res.closer}/${exp.similarity_triplets.length}`);
        t.diagnostic(`${m.url}: held-out top-5 ${res.hit}/${exp.fill_mask_heldout.length}, same fact closer ${res.closer}/${exp.similarity_triplets.length}`);
      }
      await pick(page, 'bert', HEADS_URL, { custom: true });
      await page.fill('#bert-mask', MASKED);
      await page.click('#bert-fill');
      await waitDone(page, '#bert-fills');
      const fills = await page.$$eval('#bert-fills li', (li) => li.map((l) => ({ token: l.dataset.token, score: Number(l.dataset.score) })));
      assert.deepEqual(fills.map((f) => f.token), ref.fill.map((f) => f.token));
      fills.forEach((f, i) => assert.ok(Math.abs(f.score - ref.fill[i].score) < 1e-6));
      // the screenshot shows the default (first, trained) model
      await pick(page, 'bert', BERTS[0].url);
      await page.click('#bert-fill');
      await waitDone(page, '#bert-fills');
      await page.click('#bert-sim');
      await waitDone(page, '#bert-matrix');
      await page.screenshot({ path: outPath(`bert-${mode}.png`), fullPage: true });

      // ---- T5
      await tab(page, 't5');
      const hasT5 = await page.evaluate(() => !!globalThis.plmDemo.plm.T5);
      if (hasT5 && T5S.length) {
        for (const m of T5S) {
          await pick(page, 't5', m.url);
          await page.fill('#t5-input', T5_INPUT);
          await page.fill('#t5-beams', '4');
          await page.fill('#t5-max', '48');
          await page.click('#t5-run');
          await waitDone(page, '#t5-output');
          assert.equal(await page.textContent('#t5-output .answer'), ref.t5.get(m.url));
          if (!trained('t5', m)) continue;
          // the trained model: every task's held-out prompts, greedy, >= 95% exact match
          const right = await page.evaluate(async (tasks) => {
            const t5 = globalThis.plmDemo.slots.t5.model;
            const out = {};
            for (const [task, rows] of Object.entries(tasks)) {
              out[task] = 0;
              for (const r of rows) if ((await t5.complete(r.input, { maxTokens: 24 })).text === r.target) out[task]++;
            }
            return out;
          }, TRAINED.t5.tasks);
          for (const [task, rows] of Object.entries(TRAINED.t5.tasks)) assert.ok(right[task] / rows.length >= 0.95, `${task}: exact match ${right[task]}/${rows.length}`);
          t.diagnostic(`${m.url}: held-out exact match ${Object.entries(right).map(([k, v]) => `${k} ${v}/${TRAINED.t5.tasks[k].length}`).join(', ')}`);
        }
        await pick(page, 't5', T5S[0].url);
        await page.click('#t5-run');
        await waitDone(page, '#t5-output');
      } else {
        assert.match(await page.textContent('[data-slot=t5] .slot-error'), /no T5 support/);
        t.diagnostic('T5 is not in this build yet: the panel says so');
      }
      await page.screenshot({ path: outPath(`t5-${mode}.png`), fullPage: true });

      // ---- Chat: the panel's answer = Node's; the trained model's held-out accuracy in the page
      if (CHATS.length) {
        await tab(page, 'chat');
        for (const m of CHATS) {
          await pick(page, 'chat', m.url);
          await page.click('#chat-reset');
          await page.fill('#chat-system', CHAT_SYSTEM);
          await page.fill('#chat-temp', '0');
          await page.fill('#chat-input', CHAT_Q);
          await page.click('#chat-send');
          await waitDone(page, '#chat-log .msg.assistant');
          const want = ref.chat.get(m.url);
          assert.equal(await page.textContent('#chat-log .msg.assistant .body'), want.content);
          if (want.reasoning) assert.equal(await page.textContent('#chat-log .msg.assistant .reasoning pre'), want.reasoning);
          const right = await page.evaluate(async (cases) => {
            const gpt = globalThis.plmDemo.slots.chat.model;
            const out = {};
            for (const c of cases) {
              const r = await gpt.chat(c.messages, { temperature: 0, maxTokens: 64, contextShift: true });
              out[c.skill] = (out[c.skill] ?? 0) + (r.message.content === c.got.content ? 1 : 0);
            }
            return out;
          }, TRAINED.chat.cases);
          for (const [skill, a] of Object.entries(TRAINED.chat.accuracy)) assert.equal(right[skill], a.n, `${skill}: page answers = Node's`);
          t.diagnostic(`${m.url}: held-out accuracy ${Object.entries(TRAINED.chat.accuracy).map(([k, a]) => `${k} ${a.correct}/${a.n}`).join(', ')} (page = Node)`);
        }
        await page.screenshot({ path: outPath(`chat-${mode}.png`), fullPage: true });
      }

      // ---- phone-sized viewport
      if (isolate) {
        await page.setViewportSize({ width: 390, height: 844 });
        for (const kind of ['gpt', 'bert', 't5', ...(CHATS.length ? ['chat'] : [])]) {
          await tab(page, kind);
          await page.screenshot({ path: outPath(`phone-${kind}.png`), fullPage: true });
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(overflow <= 0, `${kind}: the page is ${overflow}px wider than a phone screen`);
        }
        await page.setViewportSize({ width: 1100, height: 900 });
      }

      // ---- the cache: after a reload, the model comes from Cache Storage (no GET)
      const cached = await page.evaluate(async () => (await globalThis.plmDemo.plm.ModelCache.list()).map((e) => e.url));
      const first = new URL(GPTS[0].url, `${srv.origin}/web/`).href;
      assert.ok(cached.includes(first), `${first} is cached: ${cached}`);
      srv.requests.length = 0;
      await page.goto(`${srv.origin}/web/#gpt`);
      await page.waitForFunction(() => globalThis.plmDemo?.slots.gpt.model, null, { timeout: 120000 });
      const gets = srv.requests.filter((l) => l.includes('GET') && l.includes('.gguf'));
      assert.deepEqual(gets, [], 'no download on the second visit');
      assert.deepEqual(page.errors, []);
    } finally {
      await browser.close();
      await srv.close();
    }
  });
}

for (const name of BROWSERS) {
  const outPath = (f) => outFile(f, name);
  test(`${name}: embedding: custom elements in a static page`, { skip: skips[name], timeout: 300000 }, async () => {
    const srv = await serve(true);
    const browser = await launch({ browser: name, viewport: { width: 800, height: 1000 } });
    try {
      const page = await newPage(browser.context);
      await page.goto(`${srv.origin}/web/embed.html`);
      await page.waitForFunction(() => customElements.get('plm-generate') && customElements.get('plm-similarity'));
      await page.evaluate(() => {
        const g = document.querySelector('plm-generate');
        g.setAttribute('temperature', '0');
        g.setAttribute('max-tokens', '40');
        g.shadowRoot.querySelector('textarea').value = 'Once upon a time';
        g.run();
        document.querySelector('plm-similarity').run();
      });
      await page.waitForSelector('plm-generate[data-state=done]', { timeout: 120000 });
      await page.waitForSelector('plm-similarity[data-state=done]', { timeout: 120000 });
      const text = await page.evaluate(() => document.querySelector('plm-generate').shadowRoot.querySelector('.out span').textContent);
      assert.equal(text, ref.gpt.get('../models/gpt2-stories-F16.gguf'));
      const cells = await page.evaluate(() => document.querySelector('plm-similarity').shadowRoot.querySelectorAll('td').length);
      assert.equal(cells, 9);
      await page.screenshot({ path: outPath('embed.png'), fullPage: true });
      assert.deepEqual(page.errors, []);
    } finally {
      await browser.close();
      await srv.close();
    }
  });

  test(`${name}: embedding from another origin (the package on a CDN) in a cross-origin isolated page`, { skip: skips[name], timeout: 300000 }, async () => {
    const cdn = await serve(true); // serve.mjs sends CORS + CORP headers
    const html = `<!doctype html><meta charset="utf-8"><title>docs</title>
      <script type="module" src="${cdn.origin}/js/embed.js"></script>
      <plm-generate model="${cdn.origin}/models/gpt2-stories-F16.gguf" max-tokens="${MAX}" temperature="0">${PROMPT}</plm-generate>`;
    const site = await startServer({ files: { '/docs.html': Buffer.from(html) }, headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } });
    const browser = await launch({ browser: name });
    try {
      const page = await newPage(browser.context);
      await page.goto(site.url('docs.html'));
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
      await page.waitForFunction(() => customElements.get('plm-generate'));
      await page.evaluate(() => document.querySelector('plm-generate').run());
      await page.waitForSelector('plm-generate[data-state=done], plm-generate[data-state=error]', { timeout: 120000 });
      const text = await page.evaluate(() => document.querySelector('plm-generate').shadowRoot.querySelector('.out').textContent);
      assert.equal(text, PROMPT + ref.gpt.get('../models/gpt2-stories-F16.gguf'));
      const rt = await page.evaluate(() => document.querySelector('plm-generate').loadedModel.runtime);
      assert.deepEqual([rt.worker, rt.build], [true, 'relaxed-mt'], 'model worker and thread pool started from the other origin');
      assert.deepEqual(page.errors, []);
    } finally {
      await browser.close();
      await site.close();
      await cdn.close();
    }
  });
}
