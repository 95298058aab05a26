// plm-wasm chat <model.gguf>: an interactive chat in the terminal with the model's chat template
// (one line = one user turn; /reset starts over; Ctrl-C stops an answer; Ctrl-D quits).
// With --message the conversation is those turns, answered one after another (no prompt);
// with --print-prompt the rendered prompt is printed instead (the CLI of applyChatTemplate).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { GPT } from '../node.js';
import { int, num, engineOptions, unescape } from './args.js';

export const summary = 'chat with an instruction-tuned GGUF model (its chat template)';
export const usage = '<model.gguf> [options]';
export const positionals = 1;
export const options = {
  system: { type: 'string', arg: 'text', help: 'system message' },
  message: { type: 'string', short: 'm', multiple: true, arg: 'text', help: 'a user turn (repeatable): answer these and exit instead of reading the terminal' },
  'print-prompt': { type: 'boolean', help: 'print the rendered prompt of the --message turns (with the generation prompt) and exit' },
  template: { type: 'string', arg: 'name', help: 'a named template of the file (tokenizer.chat_template.<name>)' },
  'chat-template': { type: 'string', arg: 'file', help: 'a Jinja chat template file to use instead of the model\'s' },
  var: { type: 'string', multiple: true, arg: 'k=json', help: 'template variable, e.g. enable_thinking=false (repeatable)' },
  'max-tokens': { type: 'string', short: 'n', arg: 'n', parse: int(0), help: 'tokens per answer at most (default: until the end of the turn or 1024)' },
  temperature: { type: 'string', short: 't', arg: 'x', parse: num(0), help: 'sampling temperature, 0 = greedy (default 0.8)' },
  'top-k': { type: 'string', arg: 'k', parse: int(0), help: 'keep the k most likely tokens, 0 = off (default 40)' },
  'top-p': { type: 'string', arg: 'p', parse: num(0, 1), help: 'nucleus sampling, 1 = off (default 0.95)' },
  'min-p': { type: 'string', arg: 'p', parse: num(0, 1), help: 'drop tokens below p * max probability (default 0.05)' },
  seed: { type: 'string', short: 's', arg: 'n', parse: int(0, Number.MAX_SAFE_INTEGER), help: 'random seed (default: random)' },
  stop: { type: 'string', multiple: true, arg: 'text', help: 'also stop at this text (repeatable; \\n allowed)' },
  'hide-reasoning': { type: 'boolean', help: 'do not print the <think> part of reasoning models' },
  'ctx-size': { type: 'string', short: 'c', arg: 'n', parse: int(1), help: 'context length (default: the model\'s)' },
  ...engineOptions,
};

function variables(list = []) {
  const out = {};
  for (const kv of list) {
    const at = kv.indexOf('=');
    if (at <= 0) throw new Error(`--var expects name=value, got '${kv}'`);
    const v = kv.slice(at + 1);
    try {
      out[kv.slice(0, at)] = JSON.parse(v);
    } catch {
      out[kv.slice(0, at)] = v;
    }
  }
  return out;
}

export async function run({ positionals: [model], values: v }) {
  const templateOpts = {
    template: v.template,
    chatTemplate: v['chat-template'] !== undefined ? readFileSync(v['chat-template'], 'utf8') : undefined,
    variables: variables(v.var),
  };
  const gpt = await GPT.load(model, { threads: v.threads, contextLength: v['ctx-size'] });
  try {
    const base = v.system !== undefined ? [{ role: 'system', content: unescape(v.system) }] : [];
    if (v['print-prompt']) {
      const msgs = [...base, ...(v.message ?? []).map((m) => ({ role: 'user', content: unescape(m) }))];
      process.stdout.write(gpt.applyChatTemplate(msgs, templateOpts));
      return 0;
    }
    const gen = {
      ...templateOpts,
      maxTokens: v['max-tokens'] ?? Math.min(1024, gpt.contextLength),
      temperature: v.temperature,
      topK: v['top-k'],
      topP: v['top-p'],
      minP: v['min-p'],
      seed: v.seed,
      stop: v.stop?.map(unescape),
    };
    let messages = [...base];
    const answer = async (text) => {
      messages.push({ role: 'user', content: text });
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      let content = '';
      let reasoning = '';
      let inReasoning = false;
      try {
        for await (const c of gpt.chatStream(messages, { ...gen, signal: controller.signal })) {
          if (c.reasoning) {
            reasoning += c.text;
            if (!v['hide-reasoning']) {
              if (!inReasoning) process.stdout.write('\x1b[2m[thinking] ');
              inReasoning = true;
              process.stdout.write(c.text);
            }
            continue;
          }
          if (inReasoning) process.stdout.write('\x1b[0m\n');
          inReasoning = false;
          content += c.text;
          process.stdout.write(c.text);
        }
      } catch (e) {
        if (!controller.signal.aborted) throw e;
        process.stdout.write(' [stopped]');
      } finally {
        process.off('SIGINT', onSigint);
        if (inReasoning) process.stdout.write('\x1b[0m');
      }
      process.stdout.write('\n');
      messages.push({ role: 'assistant', content, ...(reasoning ? { reasoning_content: reasoning.trim() } : {}) });
    };

    if (v.message) {
      for (const m of v.message) await answer(unescape(m));
      return 0;
    }
    const tty = process.stdin.isTTY;
    const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: tty ? '> ' : '' });
    if (tty) console.error(`${gpt.info.name ?? model}: type a message (/reset starts over, Ctrl-D quits)`);
    rl.prompt();
    for await (const line of rl) {
      const text = line.trim();
      if (text === '/reset') messages = [...base];
      else if (text) await answer(text);
      rl.prompt();
    }
    return 0;
  } finally {
    gpt.dispose();
  }
}
