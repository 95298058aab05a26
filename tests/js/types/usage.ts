// Compiled (not run) by types.test.mjs: the public API as users write it must type-check
// against js/index.d.ts with --strict.
import { GPT, Tokenizer, Engine, PlmError, Status, detectFeatures, GENERATE_DEFAULTS, registerSourceResolver } from 'plm-wasm';
import type { GenerateOptions, Completion, LoadProgress, ModelInfo, SourceShard, GeneratedToken, FinishReason } from 'plm-wasm';

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
  const opts: GenerateOptions = { maxTokens: 8, temperature: 0, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, seed: 1, stop: ['\n'], ignoreEos: false, signal: ac.signal, truncate: 'start' };
  for await (const t of gpt.generate('Once', opts)) {
    const tok: GeneratedToken = t;
    console.log(tok.token + 1, tok.text.length);
  }
  const c: Completion = await gpt.complete([1, 2, 3], { maxTokens: GENERATE_DEFAULTS.maxTokens });
  const reason: FinishReason = c.finishReason;
  console.log(c.text, c.tokens.length, c.stats.tokensPerSecond, reason, ctx, text, logits.length);
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
  const shard: SourceShard = {
    name: 'x',
    async *open() {
      yield new Uint8Array(1);
    },
  };
  registerSourceResolver((input) => (input === 'x' ? { name: 'x', shards: [shard] } : null));
}
