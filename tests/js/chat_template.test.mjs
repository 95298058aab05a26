// applyChatTemplate / renderChatTemplate against Python's jinja2 set up as transformers'
// apply_chat_template (tests/fixtures/chat/gen_chat_goldens.py -> renderings.json): genuine
// templates of 13 model families (tests/fixtures/chat/templates, PROVENANCE.md), several
// conversations each (system + multi-turn, non-ASCII, tools, reasoning, raising templates).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderChatTemplate, chatTemplatesReady, Tokenizer, PlmError, Status } from 'plm-wasm';
import { fixture, readJSON } from './helpers.mjs';

const goldens = readJSON(fixture('chat', 'renderings.json'));
before(() => chatTemplatesReady);
const NOW = new Date(2025, 2, 14, 15, 9, 26); // gen_chat_goldens.py NOW (local time)

test(`${goldens.cases.length} renderings equal Python jinja2's byte for byte`, () => {
  const bad = [];
  const families = new Set();
  for (const c of goldens.cases) {
    families.add(c.template);
    const source = readFileSync(fixture('chat', 'templates', c.template), 'utf8');
    const opts = { addGenerationPrompt: c.add_generation_prompt, tools: c.tools, specialTokens: c.special_tokens, variables: c.variables, now: NOW };
    let got, err;
    try {
      got = renderChatTemplate(source, c.messages, opts);
    } catch (e) {
      err = e;
    }
    if (c.error !== undefined) {
      if (!(err instanceof PlmError) || !err.message.includes(c.error)) bad.push(`${c.template} ${c.name}: expected the error ${JSON.stringify(c.error)}, got ${err ? err.message : JSON.stringify(got).slice(0, 80)}`);
    } else if (err) bad.push(`${c.template} ${c.name}: threw ${err.message}`);
    else if (got !== c.expected) {
      let i = 0;
      while (i < got.length && got[i] === c.expected[i]) i++;
      bad.push(`${c.template} ${c.name}: differs at ${i}: got ${JSON.stringify(got.slice(Math.max(0, i - 30), i + 40))} want ${JSON.stringify(c.expected.slice(Math.max(0, i - 30), i + 40))}`);
    }
  }
  assert.ok(families.size >= 8);
  assert.deepEqual(bad, []);
});

test('raise_exception: a PlmError (code INVALID) whose message is the template\'s', () => {
  const src = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok";
  assert.equal(renderChatTemplate(src, [{ role: 'user', content: 'x' }]), 'ok');
  assert.throws(() => renderChatTemplate(src, [{ role: 'system', content: 'x' }]), (e) => e instanceof PlmError && e.code === Status.INVALID && /System role not supported/.test(e.message));
});

test('strftime_now: Python C-locale names whatever the runtime locale; variables override it', () => {
  const src = '{{ strftime_now("%d %b %Y|%A %B %H:%M:%S|%j|%I%p|%y") }}';
  assert.equal(renderChatTemplate(src, [], { now: NOW }), '14 Mar 2025|Friday March 15:09:26|073|03PM|25');
  assert.equal(renderChatTemplate('{{ strftime_now("%Y") }}', [], { variables: { strftime_now: () => 'fixed' } }), 'fixed');
});

test('tojson keeps non-ASCII and does not escape HTML; loop controls; variables override special tokens', () => {
  const src = "{{ {'a': 'é<>&\\''} | tojson }}|{% for m in messages %}{% if loop.index0 == 1 %}{% break %}{% endif %}{{ m.content }}{% endfor %}|{{ bos_token }}";
  const out = renderChatTemplate(src, [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }], { specialTokens: { bos_token: '<s>' }, variables: { bos_token: '[B]' } });
  assert.equal(out, '{"a": "é<>&\'"}|one|[B]');
});

test('bad input: errors that name the option', () => {
  assert.throws(() => renderChatTemplate('x', 'hello'), /messages must be an array/);
  assert.throws(() => renderChatTemplate('x', [{ content: 'x' }]), /messages\[0\]\.role/);
  assert.throws(() => renderChatTemplate('{% if %}', []), (e) => e instanceof PlmError && e.code === Status.FORMAT && /chat template/.test(e.message));
  assert.throws(() => renderChatTemplate('x', [], { addGenerationPrompt: 'yes' }), /addGenerationPrompt/);
});

test('a file without a chat template: a clear error; chatTemplate given by the caller works', async () => {
  const tok = await Tokenizer.load(fixture('tokenizers', 'ggml-vocab-gpt-2.gguf'));
  try {
    assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }]), (e) => e instanceof PlmError && e.code === Status.MISSING && /tokenizer\.chat_template/.test(e.message));
    assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { template: 'tool_use' }), /no chat template named 'tool_use'/);
    const src = '{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}';
    assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { chatTemplate: src }), '<|endoftext|>user: hi\nassistant:');
    assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { chatTemplate: src, addGenerationPrompt: false }), '<|endoftext|>user: hi\n');
  } finally {
    tok.dispose();
  }
});
