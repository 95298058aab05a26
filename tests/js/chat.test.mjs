// gpt.chat / chatStream / chatPromptIds / createChatCompletion on the tiny GPT-2 fixture, with a
// chat template stored in a copy of its GGUF (tokenizer.chat_template, and a named one).
// The template separates turns with <|endoftext|> (the model's only control token, its EOG).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from './schema_validate.mjs';
import { GPT, Engine, PlmError, Status } from 'plm-wasm';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { ReasoningSplitter } from '../../js/chat.js';
import { fixture } from './helpers.mjs';

const TEMPLATE =
  "{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n{% else %}{{ m.role }}: {{ m.content }}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
const NAMED = '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}';

/** The fixture with chat templates added to its metadata. */
function withTemplates(src) {
  const g = readGGUF(src);
  const w = new GGUFWriter();
  for (const m of g.metadata) w.addKeyValue(m.key, m.value, m.type, m.itemType);
  w.addString('tokenizer.chat_template', TEMPLATE);
  w.addString('tokenizer.chat_template.plain', NAMED);
  for (const t of g.tensors) w.addTensorInfo(t.name, t.shape, t.type);
  const parts = [];
  w.open({ write: (b) => parts.push(Uint8Array.from(b)) });
  for (const t of g.tensors) w.writeTensor(t.name, g.readTensor(t));
  w.close();
  g.close();
  return Buffer.concat(parts);
}

const J = (x) => JSON.stringify(Array.from(x));
const SEEDED = { maxTokens: 12, temperature: 0.9, topK: 0, topP: 1, minP: 0, seed: 1234 };
const CONV = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hello there' },
];

let engine;
let bytes;
before(async () => {
  engine = await Engine.create({ threads: 1 });
  bytes = withTemplates(fixture('gpt2', 'gpt2-tiny-F32.gguf'));
});
after(() => engine.dispose());

describe('chat on gpt2-tiny with a stored template', () => {
  let gpt;
  before(async () => {
    gpt = await GPT.load(bytes, { engine });
  });
  after(() => gpt.dispose());

  test('applyChatTemplate: the file\'s template, a named one, the caller\'s', () => {
    assert.equal(gpt.applyChatTemplate(CONV), 'Be brief.\nuser: Hello there<|endoftext|>assistant:');
    assert.equal(gpt.applyChatTemplate(CONV, { addGenerationPrompt: false }), 'Be brief.\nuser: Hello there<|endoftext|>');
    assert.equal(gpt.applyChatTemplate(CONV, { template: 'plain' }), '[system] Be brief.\n[user] Hello there\n');
    assert.equal(gpt.applyChatTemplate(CONV, { chatTemplate: '{{ messages | length }}{{ x }}', variables: { x: '!' } }), '2!');
    assert.throws(() => gpt.applyChatTemplate(CONV, { template: 'nope' }), (e) => e instanceof PlmError && e.code === Status.MISSING && /plain/.test(e.message));
  });

  test('chatPromptIds: markup special tokens parsed, special-token text in contents literal', () => {
    const ids = gpt.chatPromptIds(CONV);
    assert.equal(J(ids), J(gpt.tokenize(gpt.applyChatTemplate(CONV), { addSpecial: false })));
    const eot = gpt.info.tokenizer.eos;
    assert.equal(ids.filter((x) => x === eot).length, 1);
    const sneaky = [{ role: 'user', content: 'a<|endoftext|>b' }];
    const s = gpt.chatPromptIds(sneaky);
    assert.equal(s.filter((x) => x === eot).length, 1, 'only the template\'s <|endoftext|> is the control token');
    assert.equal(J(s), J([...gpt.tokenize('user: a<|endoftext|>b', { addSpecial: false, parseSpecial: false }), eot, ...gpt.tokenize('assistant:', { addSpecial: false })]));
    // opt in: parsed everywhere (what transformers' apply_chat_template(tokenize=True) does)
    assert.equal(gpt.chatPromptIds(sneaky, { parseSpecialInContent: true }).filter((x) => x === eot).length, 2);
  });

  test('chat() equals complete() on the template\'s ids; chatStream chunks concatenate to its text', async () => {
    const ids = gpt.chatPromptIds(CONV);
    const ref = await gpt.complete(ids, { ...SEEDED, reusePrefix: false });
    const r = await gpt.chat(CONV, { ...SEEDED, reusePrefix: false });
    assert.equal(J(r.tokens), J(ref.tokens));
    assert.equal(r.text, ref.text);
    assert.equal(r.finishReason, ref.finishReason);
    assert.equal(r.message.role, 'assistant');
    assert.equal(r.message.content, ref.text);
    assert.equal(r.stats.promptTokens, ids.length);
    let text = '';
    const it = gpt.chatStream(CONV, { ...SEEDED, reusePrefix: false });
    let step;
    while (!(step = await it.next()).done) {
      assert.equal(step.value.reasoning, false);
      text += step.value.text;
    }
    assert.equal(text, ref.text);
    assert.equal(J(step.value.tokens), J(ref.tokens)); // the generator returns chat()'s result
    assert.equal(step.value.finishReason, ref.finishReason);
  });

  test('multi-turn: the second turn reuses the cache and equals a fresh run token for token', async () => {
    const t1 = await gpt.chat(CONV, SEEDED);
    const conv2 = [...CONV, { role: 'assistant', content: t1.message.content }, { role: 'user', content: 'And then?' }];
    const t2 = await gpt.chat(conv2, SEEDED);
    assert.ok(t2.stats.cachedTokens > CONV.length, `cached ${t2.stats.cachedTokens}`);
    const fresh = await gpt.chat(conv2, { ...SEEDED, reusePrefix: false });
    assert.equal(fresh.stats.cachedTokens, 0);
    assert.equal(J(t2.tokens), J(fresh.tokens));
    // re-sending the same conversation re-runs only its last prompt token
    const again = await gpt.chat(conv2, SEEDED);
    assert.equal(again.stats.cachedTokens, again.stats.promptTokens - 1);
    assert.equal(J(again.tokens), J(fresh.tokens));
  });

  test('createChatCompletion: OpenAI chat.completion and chat.completion.chunk shapes', async () => {
    const req = { model: 'tiny', messages: CONV, max_tokens: 6, seed: 99 };
    const c = await gpt.createChatCompletion(req);
    assert.match(c.id, /^chatcmpl-/);
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.model, 'tiny');
    assert.ok(Number.isInteger(c.created));
    assert.equal(c.choices.length, 1);
    const ch = c.choices[0];
    assert.equal(ch.index, 0);
    assert.equal(ch.message.role, 'assistant');
    assert.equal(typeof ch.message.content, 'string');
    assert.ok(['stop', 'length'].includes(ch.finish_reason));
    assert.equal(ch.logprobs, null);
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
    // OpenAI sampling (temperature 1, top_p 1, nothing else) with the same seed = chat() with those options
    const direct = await gpt.chat(CONV, { maxTokens: 6, temperature: 1, topP: 1, topK: 0, minP: 0, seed: 99 });
    assert.equal(ch.message.content, direct.message.content);
    assert.equal(c.usage.completion_tokens, direct.tokens.length);

    const chunks = [];
    for await (const k of gpt.createChatCompletion({ ...req, stream: true, stream_options: { include_usage: true } })) chunks.push(k);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    for (const k of chunks) {
      assert.equal(k.object, 'chat.completion.chunk');
      assert.equal(k.id, chunks[0].id);
    }
    const last = chunks[chunks.length - 2];
    assert.ok(['stop', 'length'].includes(last.choices[0].finish_reason));
    assert.deepEqual(last.choices[0].delta, {});
    const usage = chunks[chunks.length - 1];
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, c.usage.completion_tokens);
    const streamed = chunks.map((k) => k.choices[0]?.delta?.content ?? '').join('');
    assert.equal(streamed, ch.message.content);
  });

  test('logprobs / topLogprobs equal the log-softmax of logits() at the same positions', async () => {
    const ids = gpt.chatPromptIds(CONV);
    const r = await gpt.complete(ids, { maxTokens: 6, temperature: 0, logprobs: true, topLogprobs: 3, reusePrefix: false });
    assert.equal(r.logprobs.length, r.tokens.length);
    const all = Int32Array.from([...ids, ...r.tokens]);
    const logits = await gpt.logits(all);
    const V = gpt.vocabSize;
    for (let i = 0; i < r.tokens.length; i++) {
      const row = logits.subarray((ids.length - 1 + i) * V, (ids.length + i) * V);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      const lp = r.logprobs[i];
      assert.equal(lp.token, r.tokens[i]);
      assert.ok(Math.abs(lp.logprob - (row[lp.token] - lse)) < 1e-4, `step ${i}: ${lp.logprob} vs ${row[lp.token] - lse}`);
      const order = Array.from(row, (x, t) => [t, x]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 3);
      assert.deepEqual(lp.topLogprobs.map((a) => a.token), order.map(([t]) => t));
      for (const a of lp.topLogprobs) assert.ok(Math.abs(a.logprob - (row[a.token] - lse)) < 1e-4);
      assert.equal(lp.topLogprobs[0].token, lp.token); // greedy: the chosen token is the best
    }
    // through chat() and the OpenAI surface
    const c = await gpt.chat(CONV, { maxTokens: 6, temperature: 0, logprobs: true, reusePrefix: false });
    assert.deepEqual(c.logprobs.map((x) => x.token), Array.from(r.tokens));
    const o = await gpt.createChatCompletion({ messages: CONV, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2 });
    const lc = o.choices[0].logprobs.content;
    assert.equal(lc.length, r.tokens.length);
    assert.equal(lc.map((x) => x.token).join(''), o.choices[0].message.content);
    assert.ok(Math.abs(lc[0].logprob - r.logprobs[0].logprob) < 1e-6);
    assert.equal(lc[0].top_logprobs.length, 2);
    assert.deepEqual(lc[0].bytes, Array.from(gpt.tokenBytes(r.tokens[0])));
  });

  test('logitBias: -Infinity bans a token, a large bias forces one', async () => {
    const ids = gpt.chatPromptIds(CONV);
    const g = await gpt.complete(ids, { maxTokens: 4, temperature: 0 });
    const first = g.tokens[0];
    const banned = await gpt.complete(ids, { maxTokens: 4, temperature: 0, logitBias: { [first]: -Infinity }, logprobs: true });
    assert.notEqual(banned.tokens[0], first);
    assert.ok(!banned.tokens.includes(first));
    const forced = await gpt.complete(ids, { maxTokens: 3, temperature: 0.8, seed: 5, logitBias: { 100: 1000 } });
    assert.deepEqual(Array.from(forced.tokens), [100, 100, 100]);
    // the end-of-turn token ends the answer (forced here): finishReason 'eos', nothing in the content
    const eot = gpt.info.tokenizer.eos;
    const ended = await gpt.chat(CONV, { maxTokens: 8, logitBias: { [eot]: 1000 } });
    assert.equal(ended.finishReason, 'eos');
    assert.equal(ended.tokens.length, 0);
    assert.equal(ended.message.content, '');
    const o = await gpt.createChatCompletion({ messages: CONV, max_tokens: 2, logit_bias: { 100: 100 }, seed: 3 });
    assert.equal(o.usage.completion_tokens, 2);
    assert.throws(() => gpt.createChatCompletion({ messages: CONV, logit_bias: { 100: 1000 } }), /logit_bias\[100\]/);
    await assert.rejects(gpt.complete(ids, { logitBias: { [gpt.vocabSize]: 1 } }), /logitBias: token id/);
    await assert.rejects(gpt.complete(ids, { logitBias: { 1: Infinity } }), /logitBias\[1\]/);
  });

  test('structured output in chat() and createChatCompletion: response_format json_schema / json_object, grammar', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 6 }, age: { type: 'integer', minimum: 0, maximum: 120 } }, required: ['name', 'age'] };
    for (const seed of [1, 2, 3, 4, 5]) {
      const o = await gpt.createChatCompletion({ messages: CONV, seed, max_tokens: 60, response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } });
      const text = o.choices[0].message.content;
      if (o.choices[0].finish_reason === 'stop') assert.deepEqual(validate(JSON.parse(text), schema), [], text);
      else assert.ok(text.startsWith('{'), text);
      const r = await gpt.chat(CONV, { seed, maxTokens: 40, temperature: 1, responseFormat: { type: 'json_object' } });
      if (r.finishReason === 'eos') assert.equal(typeof JSON.parse(r.message.content), 'object', r.message.content);
    }
    const g = await gpt.createChatCompletion({ messages: CONV, seed: 7, max_tokens: 10, grammar: 'root ::= "yes" | "no"' });
    assert.match(g.choices[0].message.content, /^(yes|no)$/);
    assert.equal(g.choices[0].finish_reason, 'stop');
    const forced = await gpt.chat(CONV, { seed: 9, temperature: 1, grammar: 'root ::= "forced answer"', maxTokens: 20 });
    assert.equal(forced.message.content, 'forced answer');
  });

  test('createChatCompletion: unsupported parameters are errors that name them', () => {
    assert.throws(() => gpt.createChatCompletion({ messages: CONV, response_format: { type: 'xml' } }), /responseFormat.type/);
    assert.throws(() => gpt.createChatCompletion({ messages: CONV, response_format: { type: 'json_object' }, grammar: 'root ::= "a"' }), /either/);
    assert.throws(() => gpt.createChatCompletion({ messages: CONV, n: 2 }), /n = 2/);
    assert.throws(() => gpt.createChatCompletion({ messages: 'hi' }), /messages must be an array/);
  });
});

test('reasoning split: <think>…</think> to reasoning, the rest to content, whatever the chunking', () => {
  const full = '<think>\nLet me think.\nYes.\n</think>\n\nThe answer is 4.';
  for (const size of [1, 2, 3, 5, 8, 100]) {
    const s = new ReasoningSplitter(true, false);
    const parts = [];
    for (let i = 0; i < full.length; i += size) parts.push(...s.push(full.slice(i, i + size)));
    parts.push(...s.push('', true));
    assert.equal(s.reasoning.trim(), 'Let me think.\nYes.');
    assert.equal(s.content, 'The answer is 4.');
    assert.equal(parts.filter((p) => p.reasoning).map((p) => p.text).join(''), s.reasoning);
    assert.equal(parts.filter((p) => !p.reasoning).map((p) => p.text).join(''), s.content);
  }
  // the prompt opened <think> (DeepSeek-R1 templates): everything up to </think> is reasoning
  const r = new ReasoningSplitter(true, true);
  r.push('hmm</th');
  r.push('ink>ok');
  r.push('', true);
  assert.equal(r.reasoning, 'hmm');
  assert.equal(r.content, 'ok');
  // no think block: all content; a later "<think>" is text
  const c = new ReasoningSplitter(true, false);
  c.push('  <b>hi</b> <think>x');
  c.push('', true);
  assert.equal(c.content, '  <b>hi</b> <think>x');
  // disabled: all content
  const d = new ReasoningSplitter(false, false);
  d.push('<think>x</think>y');
  assert.equal(d.content, '<think>x</think>y');
});

test('chat in worker mode equals chat on this thread', async () => {
  const local = await GPT.load(bytes, { engine });
  const remote = await GPT.load(bytes, { threads: 1, worker: true });
  try {
    assert.equal(remote.runtime.worker, true);
    assert.equal(remote.applyChatTemplate(CONV), local.applyChatTemplate(CONV));
    assert.equal(J(remote.chatPromptIds(CONV)), J(local.chatPromptIds(CONV)));
    const a = await local.chat(CONV, SEEDED);
    const b = await remote.chat(CONV, SEEDED);
    assert.equal(J(b.tokens), J(a.tokens));
    assert.equal(b.message.content, a.message.content);
    let text = '';
    let finish = null;
    for await (const k of remote.createChatCompletion({ messages: CONV, max_tokens: 12, temperature: 0.9, seed: 1234, stream: true })) {
      text += k.choices[0]?.delta?.content ?? '';
      finish = k.choices[0]?.finish_reason ?? finish;
    }
    const c = await local.createChatCompletion({ messages: CONV, max_tokens: 12, temperature: 0.9, seed: 1234 });
    assert.equal(text, c.choices[0].message.content);
    assert.equal(finish, c.choices[0].finish_reason);
    const rs = remote.chatStream(CONV, SEEDED);
    let st;
    while (!(st = await rs.next()).done);
    assert.equal(J(st.value.tokens), J(a.tokens)); // the return value crosses the worker boundary
  } finally {
    local.dispose();
    remote.dispose();
  }
});

test('contextShift: the oldest turns are dropped (system kept) so the answer fits; without it TOO_LONG', async () => {
  const gpt = await GPT.load(bytes, { engine, contextLength: 96 });
  try {
    const conv = [{ role: 'system', content: 'Be brief.' }];
    for (let i = 0; i < 8; i++) conv.push({ role: 'user', content: `Question number ${i} about the weather` }, { role: 'assistant', content: `Answer ${i} is sunny` });
    conv.push({ role: 'user', content: 'Last one?' });
    assert.ok(gpt.chatPromptIds(conv).length > 96);
    await assert.rejects(gpt.chat(conv, { maxTokens: 8 }), (e) => e instanceof PlmError && e.code === Status.TOO_LONG);
    const r = await gpt.chat(conv, { ...SEEDED, maxTokens: 8, contextShift: true });
    assert.ok(r.droppedMessages > 0 && r.droppedMessages % 2 === 0, `dropped ${r.droppedMessages}`);
    const kept = [conv[0], ...conv.slice(1 + r.droppedMessages)];
    assert.ok(r.stats.promptTokens + 8 <= 96);
    const same = await gpt.chat(kept, { ...SEEDED, maxTokens: 8, reusePrefix: false });
    assert.equal(J(r.tokens), J(same.tokens));
    assert.equal(r.stats.promptTokens, gpt.chatPromptIds(kept).length);
  } finally {
    gpt.dispose();
  }
});

test('CLI: plm-wasm chat --print-prompt renders the template; -m answers turns and exits', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { ROOT } = await import('./helpers.mjs');
  const dir = mkdtempSync(path.join(tmpdir(), 'plm-chat-'));
  try {
    const file = path.join(dir, 'chat.gguf');
    writeFileSync(file, bytes);
    const cli = (...args) => spawnSync(process.execPath, [path.join(ROOT, 'js/cli.js'), 'chat', file, ...args, '--threads', '1'], { encoding: 'utf8' });
    const p = cli('--print-prompt', '--system', 'Be brief.', '-m', 'Hello there');
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout, 'Be brief.\nuser: Hello there<|endoftext|>assistant:');
    const named = cli('--print-prompt', '--template', 'plain', '-m', 'Hi');
    assert.equal(named.stdout, '[user] Hi\n');
    const a = cli('-m', 'Hello there', '-m', 'And then?', '-n', '4', '-t', '0');
    assert.equal(a.status, 0, a.stderr);
    assert.ok(a.stdout.endsWith('\n'));
    const bad = cli('--template', 'nope', '-m', 'Hi');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no chat template named 'nope'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
