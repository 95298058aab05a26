// Compiled (not run) by types.test.mjs: the public API as users write it must type-check
// against js/index.d.ts with --strict.
import { GPT, BERT, T5, T5_GENERATE_DEFAULTS, Tokenizer, Engine, PlmError, Status, detectFeatures, GENERATE_DEFAULTS, registerSourceResolver, renderChatTemplate, chatTemplatesReady } from 'plm-wasm';
import type { ChatMessage, ChatOptions, ChatResult, ChatChunk, ChatCompletion, ChatCompletionChunk, TokenLogprob } from 'plm-wasm';
import type { T5Completion, T5GenerateOptions, FillMaskResult, ClassifyResult, HiddenStates, GenerateOptions, Completion, LoadProgress, ModelInfo, SourceShard, GeneratedToken, FinishReason } from 'plm-wasm';

export async function main(): Promise<void> {
  const ac = new AbortController();
  const gpt: GPT = await GPT.load('model.gguf', {
    threads: 2,
    contextLength: 256,
    signal: ac.signal,
    onProgress: (p: LoadProgress) => console.log(p.loaded, p.total ?? 0, p.phase),
  });
  const info: ModelInfo = gpt.info;
  const ctx: number = info.contextLength + gpt.contextLength + gpt.vocabSize;
  const ids: Int32Array = gpt.tokenize('Hello', { addSpecial: false, parseSpecial: true });
  const text: string = gpt.detokenize(ids, { skipSpecial: true });
  const logits: Float32Array = await gpt.logits(ids);
  const opts: GenerateOptions = { maxTokens: 8, temperature: 0, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, seed: 1, stop: ['\n'], ignoreEos: false, signal: ac.signal, truncate: 'start', reusePrefix: true };
  for await (const t of gpt.generate('Once', opts)) {
    const tok: GeneratedToken = t;
    console.log(tok.token + 1, tok.text.length);
  }
  const c: Completion = await gpt.complete([1, 2, 3], { maxTokens: GENERATE_DEFAULTS.maxTokens });
  const reason: FinishReason = c.finishReason;
  console.log(c.text, c.tokens.length, c.stats.tokensPerSecond, c.stats.cachedTokens, reason, ctx, text, logits.length);
  // chat
  const messages: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }];
  const prompt: string = gpt.applyChatTemplate(messages, { addGenerationPrompt: true, variables: { enable_thinking: false }, tools: [], now: new Date() });
  const pids: Int32Array = gpt.chatPromptIds(messages, { template: 'tool_use', parseSpecialInContent: false });
  const chatOpts: ChatOptions = { maxTokens: 16, temperature: 0.7, contextShift: true, parseReasoning: true, logitBias: { 5: -Infinity }, logprobs: true, topLogprobs: 2 };
  const r: ChatResult = await gpt.chat(messages, chatOpts);
  const lp: TokenLogprob[] | undefined = r.logprobs;
  console.log(prompt, pids.length, r.message.content, r.message.reasoning ?? '', r.finishReason, lp?.[0]?.topLogprobs.length);
  for await (const ch of gpt.chatStream(messages)) {
    const chunk: ChatChunk = ch;
    console.log(chunk.text, chunk.reasoning);
  }
  const cc: ChatCompletion = await gpt.createChatCompletion({ messages, max_tokens: 8, temperature: 0.5, seed: 1, stop: ['\n'], logit_bias: { '5': -100 } });
  console.log(cc.choices[0].message.content, cc.usage.total_tokens);
  for await (const k of gpt.createChatCompletion({ messages, stream: true })) {
    const kk: ChatCompletionChunk = k;
    console.log(kk.choices[0]?.delta.content ?? '');
  }
  await chatTemplatesReady;
  console.log(renderChatTemplate('{{ messages[0].content }}', messages, { specialTokens: { bos_token: '<s>' } }));
  gpt.dispose();

  const engine = await Engine.create({ threads: 1, build: 'simd' });
  const tok = await Tokenizer.load(new Uint8Array(8), { engine });
  const enc: Int32Array = tok.encode('x');
  const dec: string = tok.decode(enc);
  console.log(dec, tok.vocabSize, engine.heapUsed(), engine.threads, detectFeatures().simd);
  tok.dispose();
  engine.dispose();

  try {
    await GPT.load(new Blob([]));
  } catch (e) {
    if (e instanceof PlmError && e.code === Status.TOO_LONG) console.log(e.status, e.message);
  }
  const bert: BERT = await BERT.load('bert.gguf', { threads: 1, onProgress: (p: LoadProgress) => console.log(p.phase) });
  const t2: { ids: Int32Array; typeIds: Int32Array } = bert.tokenize('a', { pair: 'b', addSpecial: true });
  const hs: HiddenStates = await bert.hiddenStates(t2.ids, { typeIds: t2.typeIds });
  const hss: HiddenStates[] = await bert.hiddenStates(['a', ['b', 'c'], [101, 102]], { truncate: true });
  const v: Float32Array = await bert.embed('a', { pooling: 'cls', normalize: false });
  const vs: Float32Array[] = await bert.embed(['a', 'b']);
  const fm = (await bert.fillMask('a [MASK]', { topK: 3 })) as FillMaskResult[];
  const cl: ClassifyResult[] = await bert.classify('a', { functionToApply: 'softmax', topK: 1 });
  const ml = await bert.maskedLogits([101, 103, 102], { positions: [1] });
  console.log(hs.dims[0], hss.length, bert.similarity(v, vs[0]), fm[0].token, fm[0].tokenId, fm[0].score, fm[0].sequence, cl[0].label, ml.data.length);
  console.log(bert.heads.mlm, bert.pooling, bert.labels.length, bert.hiddenSize, bert.contextLength, (await bert.pooledOutput('x')).length);
  bert.dispose();

  const t5: T5 = await T5.load('t5.gguf', { contextLength: 256, onProgress: (p: LoadProgress) => console.log(p.phase) });
  const h: HiddenStates = await t5.encode('translate English to German: Hi', { truncate: true });
  const tl: Float32Array = await t5.logits([13, 1], [0, 5], { attentionMask: [1, 1] });
  const t5o: T5GenerateOptions = { maxTokens: T5_GENERATE_DEFAULTS.maxTokens, numBeams: 4, lengthPenalty: 0.6, earlyStopping: 'never', stop: '.', signal: ac.signal };
  for await (const t of t5.generate(t5.tokenize('summarize: x'), { temperature: 0.7, seed: 3 })) console.log(t.token, t.text);
  const tc: T5Completion = await t5.complete('x', t5o);
  console.log(h.dims[1], tl.length, tc.text, tc.tokens.length, tc.score ?? 0, tc.stats.encoderTokensPerSecond, t5.t5Info.ffn, t5.contextLength, t5.lastStats?.numBeams);
  t5.dispose();

  const shard: SourceShard = {
    name: 'x',
    async *open() {
      yield new Uint8Array(1);
    },
  };
  registerSourceResolver((input) => (input === 'x' ? { name: 'x', shards: [shard] } : null));
}

// browser-facing additions: worker mode, cache, hf:// references, runtime
import { ModelCache, resolveHfUrl, setModelWorkerFactory } from 'plm-wasm';
import type { CachedModel, Runtime } from 'plm-wasm';
export async function webApi(): Promise<void> {
  const gpt = await GPT.load('hf://owner/repo/model-Q8_0.gguf', { worker: true, cache: false, retries: 3, retryDelay: 100, hfEndpoint: 'https://huggingface.co' });
  const rt: Runtime = gpt.runtime;
  console.log(rt.worker, rt.build, rt.threads, rt.fallback ?? '');
  const cached: CachedModel[] = await ModelCache.list();
  console.log(cached.map((c) => c.url + (c.size ?? 0)), await ModelCache.has('https://example.org/m.gguf'), await ModelCache.delete(resolveHfUrl('hf://a/b/c.gguf')), await ModelCache.clear());
  ModelCache.setStore(false);
  setModelWorkerFactory(() => ({ post() {}, onMessage() {}, onError() {}, terminate() {}, ref() {}, unref() {} }));
  gpt.dispose();
}

// sources, runtime and platform hooks
import { resolveSource, chooseBuild, setPlatform, T5 as T5Class } from 'plm-wasm';
import type { ResolvedSource, Build, EngineOptions, SourceOptions } from 'plm-wasm';
export async function lowLevel(): Promise<void> {
  const so: SourceOptions = { cache: true, baseUrl: 'https://example.org/', hfEndpoint: 'https://hf.co', fetch: globalThis.fetch };
  const src: ResolvedSource = await resolveSource('hf://a/b/c-00001-of-00002.gguf', so);
  for (const s of src.shards) console.log(s.name, s.size ?? 0, s.owned ?? false, await s.probeSize?.(), s.finished?.());
  const b: { build: Build; threads: number; fallback: string | null } = chooseBuild({ threads: 2 });
  const r: Build = 'relaxed-mt';
  console.log(r, detectFeatures().relaxedSimd);
  const eo: EngineOptions = { threads: b.threads, build: b.build, wasmBaseUrl: new URL('https://cdn.example/dist/'), log: console.log, error: console.error };
  const engine = await Engine.create(eo);
  console.log(engine.memoryBytes(), engine.threadsFallback, engine.build);
  const t5 = await T5Class.load(src, { engine, worker: false, contextLength: 64 });
  t5.dispose();
  engine.dispose();
  setPlatform({});
}

// plm-wasm/embed: the custom elements
import { sharedModel, PlmGenerate } from 'plm-wasm/embed';
import type { PlmResultDetail } from 'plm-wasm/embed';
export async function embedApi(): Promise<void> {
  const el: PlmGenerate = document.createElement('plm-generate');
  el.setAttribute('model', 'models/gpt2-stories-F16.gguf');
  el.addEventListener('plm-result', (e) => console.log((e as CustomEvent<PlmResultDetail['plm-generate']>).detail.text));
  await el.run();
  const gpt: GPT = await sharedModel(GPT, 'models/gpt2-stories-F16.gguf', (p) => console.log(p.loaded));
  console.log(gpt.vocabSize, (await el.model()).info.architecture);
  document.querySelector('plm-fill-mask')?.run();
}

// structured output: grammars and JSON Schema
import { Grammar, jsonSchemaToGrammar, SchemaError } from 'plm-wasm';
import type { ResponseFormat } from 'plm-wasm';
export async function grammarApi(gpt: GPT): Promise<void> {
  const g: Grammar = await Grammar.create('root ::= "yes" | "no"');
  const ok: boolean = g.matches('yes');
  const e = Engine.latest();
  if (e) console.log(new Grammar('root ::= [0-9]+', { engine: e }).pointerIn(e));
  const rf: ResponseFormat = { type: 'json_schema', schema: { type: 'object', properties: { a: { type: 'integer' } } } };
  const r = await gpt.complete('Q:', { responseFormat: rf, maxTokens: 64 });
  console.log(ok, r.stats.grammarMs, r.stats.grammarRelaxed?.length);
  for await (const c of gpt.generate('Q:', { grammar: g, temperature: 0.5 })) console.log(c.text);
  await gpt.complete('Q:', { grammar: 'root ::= "a"', responseFormat: { type: 'json_object' } }); // (rejected at run time)
  const { grammar, relaxed } = jsonSchemaToGrammar({ type: 'string' });
  console.log(grammar.length, relaxed.join(), Grammar.fromJsonSchema('{}').source);
  try {
    new Grammar('root ::= (');
  } catch (err) {
    if (err instanceof PlmError) console.log(err.line, err.column);
    if (err instanceof SchemaError) console.log(err.path);
  }
  g.dispose();
}
