// bench.mjs — one engine at a time, driven by run.mjs through window.bench:
//
//   await bench.load({ engine, task, model, variant, threads })  -> { loadMs, ... }
//   await bench.generate({ prompt: number[], nDecode })           -> decoder timings
//   await bench.embed({ sentences: number[][], batch })           -> encoder timings
//   await bench.t2t({ input: number[], nDecode, numBeams })       -> T5 encoder + decoder timings
//
// engine: 'plm' (plm-wasm, this repo's js/ + dist/), 'wllama' (@wllama/wllama, llama.cpp),
//         'tjs' (@huggingface/transformers: AutoModelForCausalLM.generate / AutoModel),
//         'ort' (onnxruntime-web InferenceSession driven directly: what transformers.js does
//               underneath, without its generation loop).
// Every file comes from the local server (server.mjs); nothing from a CDN.
// Timing conventions (the same for every engine):
//   prefillMs  the forward pass over the prompt (for tjs: generate() start to the first token)
//   decodeMs   the remaining steps: nDecode - 1 forward passes + sampling of nDecode tokens
//              (decode tok/s = nDecode / decodeMs, as plm's stats and llama-server's timings)
//   totalMs    the whole call as seen from JS
// t2t (T5): encode the input ids, then nDecode decoder steps (EOS not allowed to end it where
//   the engine lets us: tjs min_new_tokens, ort: our own loop; plm stops at EOS, so run.mjs
//   checks the step count); numBeams 1 = greedy, > 1 = beam search (ort: our own beam loop
//   over decoder_model_merged with batch numBeams, the one transformers.js would run).
//   run.mjs times a 1-step call (encoder + cross-attention K/V + 1 decoder step) and an
//   nDecode-step call; decoderBatch = the largest decoder batch seen (tjs: to detect that
//   num_beams did not run beams).

const now = () => performance.now();

/** A transformers.js streamer class that records the time of every put() (prompt, then each token). */
function stampStreamer(BaseStreamer, stamps) {
  return class Clock extends BaseStreamer {
    put() {
      stamps.push(now());
    }
    end() {}
  };
}
const GGUF = (model, variant) => `${location.origin}/models/gguf/${model}-${variant}.gguf`;
const ORT_DTYPE = { F32: 'fp32', Q8: 'q8', Q4: 'q4' };
const ORT_SUFFIX = { F32: '', Q8: '_quantized', Q4: '_q4' };

let current = null;

function argmaxLast(data, vocab) {
  const off = data.length - vocab;
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < vocab; i++) if (data[off + i] > bv) (bv = data[off + i]), (best = i);
  return best;
}

/** Mean over tokens, L2-normalized: sentence-transformers' pooling, for ORT outputs. */
function meanPoolNormalize(hidden, batch, seq, dim) {
  const out = [];
  for (let b = 0; b < batch; b++) {
    const v = new Float32Array(dim);
    for (let t = 0; t < seq; t++) {
      const row = (b * seq + t) * dim;
      for (let i = 0; i < dim; i++) v[i] += hidden[row + i];
    }
    let n = 0;
    for (let i = 0; i < dim; i++) n += (v[i] /= seq) ** 2;
    n = Math.sqrt(n) || 1;
    for (let i = 0; i < dim; i++) v[i] /= n;
    out.push(v);
  }
  return out;
}

// ------------------------------------------------------------------ plm-wasm
const plm = {
  family: undefined, // 'plm-simd' below forces the plain SIMD128 build (no relaxed SIMD), as on Safari
  async load({ task, model, variant, threads }) {
    const { GPT, BERT, T5 } = await import('/repo/js/index.js');
    const t0 = now();
    const opts = { threads, ...(this.family ? { build: threads > 1 ? `${this.family}-mt` : this.family } : {}) };
    if (task === 'gen') this.m = await GPT.load(GGUF(model, variant), { ...opts, contextLength: 256 });
    else if (task === 't2t') this.m = await T5.load(GGUF(model, variant), { ...opts, contextLength: 256 });
    else this.m = await BERT.load(GGUF(model, variant), opts);
    const loadMs = now() - t0;
    const rt = this.m.runtime; // { worker, build, threads, fallback }: browsers default to worker mode
    return { loadMs, build: `${rt.build}${rt.worker ? ' (worker)' : ''}`, engineThreads: rt.threads };
  },
  async generate({ prompt, nDecode }) {
    const t0 = now();
    const r = await this.m.complete(Int32Array.from(prompt), { maxTokens: nDecode, temperature: 0, ignoreEos: true, reusePrefix: false });
    const totalMs = now() - t0;
    return { prefillMs: r.stats.prefillMs, decodeMs: r.stats.decodeMs, promptTokens: r.stats.promptTokens, generated: r.tokens.length, totalMs, first: r.tokens[0] };
  },
  async embed({ sentences, batch }) {
    const t0 = now();
    let dim = 0;
    for (let i = 0; i < sentences.length; i += batch) {
      const part = sentences.slice(i, i + batch).map((s) => Int32Array.from(s));
      const v = await this.m.embed(batch === 1 ? part[0] : part, { pooling: 'mean', normalize: true });
      dim = (batch === 1 ? v : v[0]).length;
    }
    return { totalMs: now() - t0, dim };
  },
  async t2t({ input, nDecode, numBeams }) {
    const t0 = now();
    const r = await this.m.complete(Int32Array.from(input), { maxTokens: nDecode, numBeams });
    const totalMs = now() - t0;
    return { totalMs, encodeMs: r.stats.encodeMs, decodeMs: r.stats.decodeMs, generated: r.tokens.length, finishReason: r.finishReason, decoderBatch: numBeams };
  },
  async dispose() {
    this.m?.dispose();
  },
};

// ------------------------------------------------------------------ wllama (llama.cpp)
const wllama = {
  async load({ task, model, variant, threads }) {
    const { Wllama } = await import('/nm/@wllama/wllama/esm/index.js');
    const t0 = now();
    this.w = new Wllama({ default: '/nm/@wllama/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true });
    const blob = await (await fetch(GGUF(model, variant))).blob();
    const params = { n_threads: threads, n_gpu_layers: 0, n_ctx: task === 'gen' ? 256 : 1024, seed: 1 };
    if (task === 'embed') Object.assign(params, { embeddings: true, pooling_type: 'mean', n_batch: 1024, n_ubatch: 1024, n_parallel: 1 });
    else params.n_parallel = 1;
    await this.w.loadModel([new File([blob], 'model.gguf')], params);
    const loadMs = now() - t0;
    return { loadMs, build: this.w.isMultithread() ? 'mt' : 'st', engineThreads: this.w.getNumThreads?.() ?? threads };
  },
  async generate({ text, nDecode }) {
    // llama-server's completion API takes text only: run.mjs makes texts that tokenize to the
    // same ids the other engines get (prompt_n is checked against them)
    const t0 = now();
    const r = await this.w.createCompletion({ prompt: text, max_tokens: nDecode, temperature: 0, ignore_eos: true, cache_prompt: false, stream: false });
    const totalMs = now() - t0;
    const t = r.timings;
    return { prefillMs: t.prompt_ms, decodeMs: t.predicted_ms, promptTokens: t.prompt_n, generated: t.predicted_n, totalMs };
  },
  async embed({ sentences, batch }) {
    const t0 = now();
    let dim = 0;
    for (let i = 0; i < sentences.length; i += batch) {
      const part = sentences.slice(i, i + batch);
      const r = await this.w.createEmbedding({ input: batch === 1 ? part[0] : part });
      dim = r.data[0].embedding.length;
    }
    return { totalMs: now() - t0, dim };
  },
  async dispose() {
    await this.w?.exit();
  },
};

// ------------------------------------------------------------------ transformers.js
const TJS_ORT = '/nm/@huggingface/transformers/node_modules/onnxruntime-web/dist/';
const tjs = {
  async load({ task, model, variant, threads }) {
    const T = (this.T = await import('/nm/@huggingface/transformers/dist/transformers.js'));
    const { env } = T;
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = '/models/onnx/';
    env.useBrowserCache = false;
    env.useWasmCache = false;
    // transformers.js' default ORT build (asyncify), from its own onnxruntime-web copy
    env.backends.onnx.wasm.wasmPaths = { mjs: `${TJS_ORT}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${TJS_ORT}ort-wasm-simd-threaded.asyncify.wasm` };
    env.backends.onnx.wasm.numThreads = threads;
    const t0 = now();
    const Cls = task === 'gen' ? T.AutoModelForCausalLM : task === 't2t' ? T.AutoModelForSeq2SeqLM : T.AutoModel;
    this.m = await Cls.from_pretrained(model, { dtype: ORT_DTYPE[variant], device: 'wasm' });
    if (task === 't2t') {
      // record the decoder's batch size: transformers.js 4.3.2 accepts num_beams but runs batch 1
      const dec = this.m.sessions.decoder_model_merged;
      const run = dec.run.bind(dec);
      dec.run = (feeds, ...rest) => {
        this.decoderBatch = Math.max(this.decoderBatch ?? 0, Number(feeds.input_ids?.dims?.[0] ?? 0));
        return run(feeds, ...rest);
      };
    }
    const loadMs = now() - t0;
    return { loadMs, build: `ort ${env.backends.onnx.versions?.web ?? ''}`, engineThreads: env.backends.onnx.wasm.numThreads };
  },
  async generate({ prompt, nDecode }) {
    const { Tensor, BaseStreamer } = this.T;
    const stamps = [];
    const Clock = stampStreamer(BaseStreamer, stamps);
    const n = prompt.length;
    const input_ids = new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, n]);
    const attention_mask = new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
    const t0 = now();
    const out = await this.m.generate({ input_ids, attention_mask, max_new_tokens: nDecode, min_new_tokens: nDecode, do_sample: false, streamer: new Clock() });
    const totalMs = now() - t0;
    // stamps[0]: the prompt (before any forward pass); stamps[1]: first token; stamps[nDecode]: last
    const gen = stamps.length - 1;
    return { prefillMs: stamps[1] - t0, decodeMs: stamps[gen] - stamps[1], promptTokens: n, generated: gen, totalMs, first: Number(out.data[n]) };
  },
  async embed({ sentences, batch }) {
    const { Tensor, mean_pooling } = this.T;
    const t0 = now();
    let dim = 0;
    for (let i = 0; i < sentences.length; i += batch) {
      const part = sentences.slice(i, i + batch);
      const seq = part[0].length;
      const ids = new Tensor('int64', BigInt64Array.from(part.flat(), BigInt), [part.length, seq]);
      const mask = new Tensor('int64', new BigInt64Array(part.length * seq).fill(1n), [part.length, seq]);
      const types = new Tensor('int64', new BigInt64Array(part.length * seq), [part.length, seq]);
      const { last_hidden_state } = await this.m({ input_ids: ids, attention_mask: mask, token_type_ids: types });
      // = pipeline('feature-extraction')(texts, { pooling: 'mean', normalize: true }) after tokenization
      const v = mean_pooling(last_hidden_state, mask).normalize(2, -1);
      dim = v.dims.at(-1);
    }
    return { totalMs: now() - t0, dim };
  },
  async t2t({ input, nDecode, numBeams }) {
    const { Tensor, BaseStreamer } = this.T;
    const stamps = [];
    const Clock = stampStreamer(BaseStreamer, stamps);
    const n = input.length;
    const input_ids = new Tensor('int64', BigInt64Array.from(input, BigInt), [1, n]);
    const attention_mask = new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
    this.decoderBatch = 0;
    const t0 = now();
    await this.m.generate({ input_ids, attention_mask, max_new_tokens: nDecode, min_new_tokens: nDecode, do_sample: false, num_beams: numBeams, streamer: new Clock() });
    const totalMs = now() - t0;
    // stamps[0]: the decoder start token (before any forward pass); stamps[1]: first token
    return { totalMs, encodeMs: stamps[1] - t0, decodeMs: stamps.at(-1) - stamps[1], generated: stamps.length - 1, decoderBatch: this.decoderBatch };
  },
  async dispose() {
    await this.m?.dispose();
  },
};

// ------------------------------------------------------------------ onnxruntime-web, directly
const ort_ = {
  async load({ task, model, variant, threads }) {
    const ort = (this.ort = await import('/nm/onnxruntime-web/dist/ort.wasm.min.mjs'));
    ort.env.wasm.wasmPaths = '/nm/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    const t0 = now();
    const url = (file) => `${location.origin}/models/onnx/${model}/onnx/${file}${ORT_SUFFIX[variant]}.onnx`;
    const opts = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
    if (task === 't2t') {
      this.enc = await ort.InferenceSession.create(url('encoder_model'), opts);
      this.s = await ort.InferenceSession.create(url('decoder_model_merged'), opts);
    } else this.s = await ort.InferenceSession.create(url('model'), opts);
    this.cfg = await (await fetch(`${location.origin}/models/onnx/${model}/config.json`)).json();
    const loadMs = now() - t0;
    return { loadMs, build: `ort ${ort.env.versions?.web ?? ''}`, engineThreads: ort.env.wasm.numThreads };
  },
  async generate({ prompt, nDecode }) {
    const { ort, cfg } = this;
    const nLayer = cfg.n_layer ?? cfg.num_hidden_layers;
    const nkv = cfg.n_head ?? cfg.num_key_value_heads;
    const hd = (cfg.n_embd ?? cfg.hidden_size) / (cfg.n_head ?? cfg.num_attention_heads);
    const V = cfg.vocab_size;
    const i64 = (a, dims) => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), dims);
    let past = {};
    for (let l = 0; l < nLayer; l++)
      for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, nkv, 0, hd]);
    let pos = 0;
    const step = async (ids) => {
      const out = await this.s.run({
        input_ids: i64(ids, [1, ids.length]),
        attention_mask: i64(new Array(pos + ids.length).fill(1), [1, pos + ids.length]),
        position_ids: i64(ids.map((_, i) => pos + i), [1, ids.length]),
        ...past,
      });
      for (const t of Object.values(past)) t.dispose?.();
      past = {};
      for (let l = 0; l < nLayer; l++) for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`];
      pos += ids.length;
      const id = argmaxLast(out.logits.data, V);
      out.logits.dispose?.();
      return id;
    };
    const t0 = now();
    let id = await step(prompt);
    const t1 = now();
    const tokens = [id];
    while (tokens.length < nDecode) tokens.push((id = await step([id])));
    const t2 = now();
    for (const t of Object.values(past)) t.dispose?.();
    return { prefillMs: t1 - t0, decodeMs: t2 - t1, promptTokens: prompt.length, generated: tokens.length, totalMs: t2 - t0, first: tokens[0] };
  },
  async embed({ sentences, batch }) {
    const { ort, cfg } = this;
    const t0 = now();
    for (let i = 0; i < sentences.length; i += batch) {
      const part = sentences.slice(i, i + batch);
      const seq = part[0].length;
      const dims = [part.length, seq];
      const out = await this.s.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(part.flat(), BigInt), dims),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(part.length * seq).fill(1n), dims),
        token_type_ids: new ort.Tensor('int64', new BigInt64Array(part.length * seq), dims),
      });
      meanPoolNormalize(out.last_hidden_state.data, part.length, seq, cfg.hidden_size);
    }
    return { totalMs: now() - t0, dim: cfg.hidden_size };
  },
  /**
   * T5 through encoder_model + decoder_model_merged, the feeds transformers.js builds
   * (use_cache_branch false on the first step, with empty past tensors). numBeams > 1: Hugging
   * Face's beam search without EOS handling: the encoder output repeated per beam, beam scores
   * [0, -inf, ...] at the start, every step log-softmax per beam + score, the best numBeams of
   * the numBeams x vocab candidates, the decoder self-attention caches reordered by beam (the
   * cross-attention caches are identical across beams and are not copied).
   */
  async t2t({ input, nDecode, numBeams }) {
    const { ort, cfg } = this;
    const B = numBeams;
    const V = cfg.vocab_size;
    const L = cfg.num_decoder_layers ?? cfg.num_layers;
    const H = cfg.num_heads;
    const D = cfg.d_kv;
    const n = input.length;
    const i64 = (a, dims) => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), dims);
    const t0 = now();
    const encOut = await this.enc.run({ input_ids: i64(input, [1, n]), attention_mask: i64(new Array(n).fill(1), [1, n]) });
    let hidden = encOut.last_hidden_state;
    if (B > 1) {
      const h = new Float32Array(B * hidden.data.length);
      for (let b = 0; b < B; b++) h.set(hidden.data, b * hidden.data.length);
      hidden.dispose?.();
      hidden = new ort.Tensor('float32', h, [B, n, hidden.dims[2]]);
    }
    const mask = i64(new Array(B * n).fill(1), [B, n]);
    let past = null;
    let scores = Float64Array.from({ length: B }, (_, b) => (b === 0 ? 0 : -1e9));
    let ids = new Array(B).fill(cfg.decoder_start_token_id ?? 0);
    let steps = 0;
    let t1 = 0;
    const empty = () => new ort.Tensor('float32', new Float32Array(0), [B, H, 0, D]);
    while (steps < nDecode) {
      const feeds = { encoder_attention_mask: mask, input_ids: i64(ids, [B, 1]), encoder_hidden_states: hidden, use_cache_branch: new ort.Tensor('bool', [past !== null], [1]) };
      for (let l = 0; l < L; l++)
        for (const s of ['decoder', 'encoder']) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${s}.${kv}`] = past?.[`present.${l}.${s}.${kv}`] ?? empty();
      const out = await this.s.run(feeds);
      const logits = out.logits.data; // [B, 1, V]
      let beamOf = null;
      if (B === 1) ids = [argmaxLast(logits, V)];
      else {
        // top B of B x V candidates by score + log_softmax
        const best = [];
        for (let b = 0; b < B; b++) {
          const row = logits.subarray(b * V, (b + 1) * V);
          let mx = -Infinity;
          for (let i = 0; i < V; i++) if (row[i] > mx) mx = row[i];
          let sum = 0;
          for (let i = 0; i < V; i++) sum += Math.exp(row[i] - mx);
          const base = scores[b] - mx - Math.log(sum);
          for (let i = 0; i < V; i++) {
            const sc = base + row[i];
            if (best.length < B || sc > best[best.length - 1][0]) {
              best.push([sc, b, i]);
              best.sort((x, y) => y[0] - x[0]);
              if (best.length > B) best.pop();
            }
          }
        }
        scores = Float64Array.from(best, (x) => x[0]);
        beamOf = best.map((x) => x[1]);
        ids = best.map((x) => x[2]);
      }
      out.logits.dispose?.();
      // next step's cache: the decoder caches (reordered by beam), the cross-attention caches as they are
      const next = {};
      for (let l = 0; l < L; l++) {
        for (const kv of ['key', 'value']) {
          const d = out[`present.${l}.decoder.${kv}`];
          if (beamOf && beamOf.some((b, i) => b !== i)) {
            const per = d.data.length / B;
            const r = new Float32Array(d.data.length);
            beamOf.forEach((b, i) => r.set(d.data.subarray(b * per, (b + 1) * per), i * per));
            next[`present.${l}.decoder.${kv}`] = new ort.Tensor('float32', r, d.dims);
            d.dispose?.();
          } else next[`present.${l}.decoder.${kv}`] = d;
          const e = `present.${l}.encoder.${kv}`;
          next[e] = past?.[e] ?? out[e];
          if (past && out[e] !== past[e]) out[e].dispose?.();
        }
        if (past) for (const kv of ['key', 'value']) if (past[`present.${l}.decoder.${kv}`] !== next[`present.${l}.decoder.${kv}`]) past[`present.${l}.decoder.${kv}`].dispose?.();
      }
      past = next;
      steps++;
      if (steps === 1) t1 = now();
    }
    const t2 = now();
    for (const t of Object.values(past ?? {})) t.dispose?.();
    hidden.dispose?.();
    return { totalMs: t2 - t0, encodeMs: t1 - t0, decodeMs: t2 - t1, generated: steps, decoderBatch: B };
  },
  async dispose() {
    await this.enc?.release();
    await this.s?.release();
  },
};

const ENGINES = { plm, 'plm-simd': { ...plm, family: 'simd' }, wllama, tjs, ort: ort_ };

window.bench = {
  isolated: () => crossOriginIsolated,
  async load(cfg) {
    current = ENGINES[cfg.engine];
    if (!current) throw new Error(`unknown engine ${cfg.engine}`);
    return current.load(cfg);
  },
  generate: (cfg) => current.generate(cfg),
  embed: (cfg) => current.embed(cfg),
  t2t: (cfg) => current.t2t(cfg),
  dispose: () => current?.dispose(),
};
document.getElementById('log').textContent += '\nready';
