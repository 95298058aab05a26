// tokenizer.js — a model's tokenizer on its own (GGUF loaded with
// PLM_LOAD_VOCAB_ONLY: works on vocab-only files, ignores tensors of full ones).

import { ModelBase } from './core/model.js';

export class Tokenizer extends ModelBase {
  static exportName = 'Tokenizer';
  static local = ['encode', 'decode']; // (the worker contract: see ModelBase.local)

  /**
   * Load the tokenizer of a GGUF file (path, URL, bytes or Blob).
   * Options: onProgress, signal, engine (share an Engine); tokenizers run single-threaded.
   */
  static async load(source, options = {}) {
    const opened = await ModelBase.open(source, { threads: 1, ...options }, ModelBase.VOCAB_ONLY);
    return new Tokenizer(opened);
  }

  /** Number of tokens in the vocabulary. */
  get vocabSize() {
    return this.info.vocabSize;
  }

  /** Token ids of text. addSpecial (default true) adds the model's special tokens (BOS for LLaMA, [CLS]/[SEP] for BERT, </s> for T5, none for GPT-2). */
  encode(text, options) {
    return this.tokenize(text, options);
  }

  /** Text of ids (control tokens skipped, SentencePiece leading space removed; see detokenize options). */
  decode(ids, options) {
    return this.detokenize(ids, options);
  }
}
