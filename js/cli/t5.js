// plm-wasm t5 <model.gguf> "input": run a T5 text-to-text model, stream the output to stdout.
import { T5, T5_GENERATE_DEFAULTS } from '../node.js';
import { int, num, engineOptions, unescape } from './args.js';

export const summary = 'text-to-text generation with a T5 / FLAN-T5 GGUF model (greedy, sampling, beam search)';
export const usage = '<model.gguf> "input text" [options]';
export const positionals = 2;
const d = T5_GENERATE_DEFAULTS;
const early = (s, name) => {
  const v = { true: true, false: false, never: 'never' }[s];
  if (v === undefined) throw new Error(`--${name} expects true, false or never, got '${s}'`);
  return v;
};
export const options = {
  'max-tokens': { type: 'string', short: 'n', arg: 'n', parse: int(0), help: `output tokens at most (default ${d.maxTokens})` },
  beams: { type: 'string', short: 'b', arg: 'n', parse: int(1, 4096), help: `beam search with n beams (default ${d.numBeams}: greedy / sampling)` },
  'length-penalty': { type: 'string', arg: 'x', parse: num(), help: `beam score = log-prob / length^x (default ${d.lengthPenalty})` },
  'early-stopping': { type: 'string', arg: 'when', parse: early, help: 'beam search stop rule: true, false (default) or never, as transformers' },
  temperature: { type: 'string', short: 't', arg: 'x', parse: num(0), help: `sampling temperature, 0 = greedy (default ${d.temperature})` },
  'top-k': { type: 'string', arg: 'k', parse: int(0), help: `keep the k most likely tokens, 0 = off (default ${d.topK})` },
  'top-p': { type: 'string', arg: 'p', parse: num(0, 1), help: `nucleus sampling, 1 = off (default ${d.topP})` },
  'min-p': { type: 'string', arg: 'p', parse: num(0, 1), help: `drop tokens below p * max probability, 0 = off (default ${d.minP})` },
  'repeat-penalty': { type: 'string', arg: 'x', parse: num(0.000001), help: `repetition penalty, 1 = off (default ${d.repetitionPenalty})` },
  seed: { type: 'string', short: 's', arg: 'n', parse: int(0, Number.MAX_SAFE_INTEGER), help: 'random seed (default: random)' },
  stop: { type: 'string', multiple: true, arg: 'text', help: 'stop at this text (repeatable; \\n allowed)' },
  'ctx-size': { type: 'string', short: 'c', arg: 'n', parse: int(2), help: 'longest input and output in tokens (default: the model\'s)' },
  truncate: { type: 'boolean', help: 'cut an input longer than the context' },
  json: { type: 'boolean', help: 'print { text, tokens, finishReason, score, stats } as JSON instead of streaming' },
  ...engineOptions,
};

export async function run({ positionals: [model, input], values: v }) {
  const t5 = await T5.load(model, { threads: v.threads, contextLength: v['ctx-size'] });
  try {
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    const opts = {
      maxTokens: v['max-tokens'],
      numBeams: v.beams,
      lengthPenalty: v['length-penalty'],
      earlyStopping: v['early-stopping'],
      temperature: v.temperature,
      topK: v['top-k'],
      topP: v['top-p'],
      minP: v['min-p'],
      repetitionPenalty: v['repeat-penalty'],
      seed: v.seed,
      stop: v.stop?.map(unescape),
      truncate: v.truncate,
      signal: controller.signal,
    };
    try {
      if (v.json) {
        const r = await t5.complete(input, opts);
        process.stdout.write(`${JSON.stringify({ ...r, tokens: Array.from(r.tokens) }, null, 2)}\n`);
        return 0;
      }
      for await (const { text } of t5.generate(input, opts)) process.stdout.write(text);
      process.stdout.write('\n');
    } catch (e) {
      if (!controller.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    const s = t5.lastStats;
    if (s)
      process.stderr.write(
        `input: ${s.inputTokens} tokens encoded in ${s.encodeMs.toFixed(1)} ms (${s.encoderTokensPerSecond.toFixed(1)} tok/s); ` +
          `output: ${s.generatedTokens} tokens in ${s.decodeMs.toFixed(1)} ms (${s.tokensPerSecond.toFixed(1)} tok/s)` +
          `${s.numBeams > 1 ? `, ${s.numBeams} beams` : ''}; ${t5.engine.build}, ${t5.engine.threads} thread${t5.engine.threads > 1 ? 's' : ''}\n`,
      );
    return 0;
  } finally {
    t5.dispose();
  }
}
