// plm-wasm generate <model.gguf> "prompt": stream a continuation to stdout, stats to stderr.
import { GPT, GENERATE_DEFAULTS } from '../node.js';
import { int, num, engineOptions, unescape } from './args.js';
import { readFileSync } from 'node:fs';

export const summary = 'generate text with a GPT-2 / LLaMA GGUF model';
export const usage = '<model.gguf> "prompt" [options]';
export const positionals = 2;
const d = GENERATE_DEFAULTS;
export const options = {
  'max-tokens': { type: 'string', short: 'n', arg: 'n', parse: int(0), help: `tokens to generate (default ${d.maxTokens})` },
  temperature: { type: 'string', short: 't', arg: 'x', parse: num(0), help: `sampling temperature, 0 = greedy (default ${d.temperature})` },
  'top-k': { type: 'string', arg: 'k', parse: int(0), help: `keep the k most likely tokens, 0 = off (default ${d.topK})` },
  'top-p': { type: 'string', arg: 'p', parse: num(0, 1), help: `nucleus sampling, 1 = off (default ${d.topP})` },
  'min-p': { type: 'string', arg: 'p', parse: num(0, 1), help: `drop tokens below p * max probability, 0 = off (default ${d.minP})` },
  'repeat-penalty': { type: 'string', arg: 'x', parse: num(0.000001), help: `repetition penalty, 1 = off (default ${d.repetitionPenalty})` },
  'repeat-last-n': { type: 'string', arg: 'n', parse: int(0), help: `tokens the penalty looks back on, 0 = all (default ${d.penaltyLastN})` },
  seed: { type: 'string', short: 's', arg: 'n', parse: int(0, Number.MAX_SAFE_INTEGER), help: 'random seed (default: random)' },
  stop: { type: 'string', multiple: true, arg: 'text', help: 'stop at this text (repeatable; \\n allowed)' },
  'ignore-eos': { type: 'boolean', help: 'keep generating after the end-of-text token' },
  'ctx-size': { type: 'string', short: 'c', arg: 'n', parse: int(1), help: 'context length (default: the model\'s)' },
  truncate: { type: 'boolean', help: 'drop the start of a prompt that does not fit the context' },
  grammar: { type: 'string', arg: 'file', help: 'constrain the output to a GBNF grammar (llama.cpp format)' },
  'json-schema': { type: 'string', arg: 'file', help: 'constrain the output to JSON matching this JSON Schema' },
  json: { type: 'boolean', help: 'constrain the output to a JSON object' },
  ...engineOptions,
};

export async function run({ positionals: [model, prompt], values: v }) {
  const read = (f, what) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new Error(`cannot read the ${what} file ${f}: ${e.message}`);
    }
  };
  const grammar = v.grammar !== undefined ? read(v.grammar, 'grammar') : undefined;
  const responseFormat = v['json-schema'] !== undefined ? { type: 'json_schema', schema: read(v['json-schema'], 'JSON Schema') } : v.json ? { type: 'json_object' } : undefined;
  const gpt = await GPT.load(model, { threads: v.threads, contextLength: v['ctx-size'] });
  try {
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    process.stdout.write(prompt);
    const result = { stats: null };
    let text = '';
    try {
      const it = gpt.generate(prompt, {
        maxTokens: v['max-tokens'],
        temperature: v.temperature,
        topK: v['top-k'],
        topP: v['top-p'],
        minP: v['min-p'],
        repetitionPenalty: v['repeat-penalty'],
        penaltyLastN: v['repeat-last-n'],
        seed: v.seed,
        stop: v.stop?.map(unescape),
        ignoreEos: v['ignore-eos'],
        truncate: v.truncate ? 'start' : undefined,
        grammar,
        responseFormat,
        signal: controller.signal,
      });
      for await (const { text: t } of it) {
        text += t;
        process.stdout.write(t);
      }
    } catch (e) {
      if (!controller.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    process.stdout.write('\n');
    const s = gpt.lastStats;
    if (s) {
      process.stderr.write(
        `prompt: ${s.promptTokens} tokens in ${s.prefillMs.toFixed(1)} ms (${s.promptTokensPerSecond.toFixed(1)} tok/s); ` +
          `generated: ${s.generatedTokens} tokens in ${s.decodeMs.toFixed(1)} ms (${s.tokensPerSecond.toFixed(1)} tok/s); ` +
          `${gpt.engine.build}, ${gpt.engine.threads} thread${gpt.engine.threads > 1 ? 's' : ''}\n`,
      );
    }
    return 0;
  } finally {
    gpt.dispose();
  }
}
