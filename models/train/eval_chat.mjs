// Held-out accuracy of the chat model through plm-wasm (Node): greedy chat() on every
// held-out case of corpus_chat.heldout_cases (written by train_chat.py), exact match of the
// answer (content; for sums also the reasoning). Writes tests/fixtures/models/gpt2-chat.json
// (cases, expected answers, per-skill accuracy) for tests/js/chat_model.test.mjs.
//
//   node models/train/eval_chat.mjs [models/gpt2-chat-F16.gguf]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPT } from '../../js/node.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const gguf = process.argv[2] ?? path.join(ROOT, 'models', 'gpt2-chat-F16.gguf');
const cases = JSON.parse(fs.readFileSync(path.join(ROOT, 'models', 'train', 'work', 'gpt2-chat-heldout.json'), 'utf8'));

/** The answer as chat() returns it: reasoning split off, content after it. */
export function expectedParts(answer) {
  const m = /^<think>\n([\s\S]*?)\n<\/think>\n\n([\s\S]*)$/.exec(answer);
  return m ? { reasoning: m[1], content: m[2] } : { reasoning: undefined, content: answer };
}

const gpt = await GPT.load(gguf, { threads: 1 });
const per = {};
const out = [];
const t0 = performance.now();
for (const c of cases) {
  const r = await gpt.chat(c.messages, { temperature: 0, maxTokens: 64, contextShift: true });
  const want = expectedParts(c.answer);
  const ok = r.message.content === want.content && (want.reasoning === undefined || r.message.reasoning === want.reasoning);
  per[c.skill] ??= { n: 0, correct: 0 };
  per[c.skill].n++;
  per[c.skill].correct += ok ? 1 : 0;
  out.push({ ...c, got: { content: r.message.content, reasoning: r.message.reasoning ?? null }, correct: ok });
}
const ms = performance.now() - t0;
gpt.dispose();
const accuracy = Object.fromEntries(Object.entries(per).map(([k, v]) => [k, { ...v, accuracy: +(v.correct / v.n).toFixed(4) }]));
const result = {
  gguf: path.basename(gguf),
  note: 'written by models/train/eval_chat.mjs: greedy chat() (temperature 0, maxTokens 64) on the held-out cases of corpus_chat.py',
  accuracy,
  // what models/README.md states: the measured accuracy, rounded down to a whole percent
  claimed: Object.fromEntries(Object.entries(accuracy).map(([k, v]) => [k, Math.floor(v.accuracy * 100) / 100])),
  cases: out,
};
fs.writeFileSync(path.join(ROOT, 'tests', 'fixtures', 'models', 'gpt2-chat.json'), JSON.stringify(result, null, 1) + '\n');
for (const [k, v] of Object.entries(accuracy)) console.log(`${k.padEnd(11)} ${v.correct}/${v.n} = ${(100 * v.accuracy).toFixed(1)}%`);
console.log(`${cases.length} cases in ${(ms / 1000).toFixed(1)} s`);
