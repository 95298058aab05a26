// plm-wasm convert / quantize / inspect from the command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { ROOT, FIXTURES, tempDir, loadManifest, compareWithManifest } from './convert_helpers.mjs';

const CLI = path.join(ROOT, 'js/cli.js');
const run = (...args) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('convert -> quantize -> inspect', () => {
  const { dir, cleanup } = tempDir();
  try {
    const f32 = path.join(dir, 'tiny-F32.gguf');
    let r = run('convert', path.join(FIXTURES, 'llama/tiny-random-gqa/hf'), '-o', f32, '--type', 'f32');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /llama F32, 21 tensors, 139,584 parameters/);
    const q4 = path.join(dir, 'tiny-Q4_0.gguf');
    r = run('quantize', f32, q4, '--type', 'Q4_0', '-q');
    assert.equal(r.status, 0, r.stderr);
    const cmp = compareWithManifest(fs.readFileSync(q4), loadManifest('llama-tiny-gqa-Q4_0'));
    assert.ok(cmp.wholeFileSame, JSON.stringify(cmp));

    r = run('inspect', q4, '--ctx', '64');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /GGUF v3, 21 tensors, 27 metadata keys/);
    assert.match(r.stdout, /general\.file_type\s+uint32\s+2/);
    assert.match(r.stdout, /tokenizer\.ggml\.tokens\s+arr\[string,512\]\s+\["<unk>", "<s>", "<\/s>"/);
    assert.match(r.stdout, /output\.weight\s+Q8_0\s+\[64, 512\]\s+34,816/);
    assert.match(r.stdout, /parameters: 139,584/);
    // KV cache: 2 (K,V) x 2 layers x 64 positions x 2 KV heads x 16 x 4 bytes = 32 KiB
    assert.match(r.stdout, /memory estimate at context 64: weights 0\.09 MiB \+ KV cache 0\.03 MiB/);
    r = run('inspect', q4, '--json');
    const info = JSON.parse(r.stdout);
    assert.equal(info.nParams, 139584);
    assert.equal(info.memory.kvCache, 2 * 2 * 128 * 2 * 16 * 4);
    assert.equal(info.tensors.length, 21);
  } finally {
    cleanup();
  }
});

test('BERT with and without heads', () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = path.join(dir, 'a.gguf');
    const b = path.join(dir, 'b.gguf');
    assert.equal(run('convert', path.join(FIXTURES, 'bert/hf'), '-o', a, '-t', 'Q8_0', '-q').status, 0);
    assert.equal(run('convert', path.join(FIXTURES, 'bert/hf'), '-o', b, '-t', 'Q8_0', '-q', '--no-heads').status, 0);
    const fa = readGGUF(a);
    const fb = readGGUF(b);
    assert.equal(fa.tensors.length, 37 + 7);
    assert.equal(fb.tensors.length, 37);
    fa.close();
    fb.close();
  } finally {
    cleanup();
  }
});

test('errors: exit code 1 and a message naming the problem; usage errors exit 2', () => {
  let r = run('convert', path.join(FIXTURES, 'gpt2'), '-o', '/tmp/never.gguf');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /gpt2: missing config\.json/);
  r = run('convert', path.join(FIXTURES, 'gpt2/hf'), '-o', '/tmp/never.gguf', '--type', 'Q2_K');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--type expects one of F32, F16, BF16, Q8_0, Q4_0/);
  r = run('convert', path.join(FIXTURES, 'gpt2/hf'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /output file is required/);
  r = run('quantize', 'a.gguf');
  assert.equal(r.status, 2);
  assert.ok(!fs.existsSync('/tmp/never.gguf'));
});
