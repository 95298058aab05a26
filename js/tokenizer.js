// tokenizer.js — a model's tokenizer on its own (GGUF loaded with
// PLM_LOAD_VOCAB_ONLY: works on vocab-only files, ignores tensors of full ones).

import { ModelBase } from './core/model.js';
import { applyChatTemplate, jinjaReady } from './core/chat-template.js';

export class Tokenizer extends ModelBase {
  static exportName = 'Tokenizer';
  static local = ['encode', 'decode', 'applyChatTemplate']; // (the worker contract: see ModelBase.local)

  /**
   * Load the tokenizer of a GGUF file (path, URL, bytes or Blob).
   * Options: onProgress, signal, engine (share an Engine); tokenizers run single-threaded.
   */
  static async load(source, options = {}) {
    const [opened] = await Promise.all([ModelBase.open(source, { threads: 1, ...options }, ModelBase.VOCAB_ONLY), jinjaReady]);
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

  /**
   * The prompt text of a conversation, as transformers' apply_chat_template(messages,
   * tokenize=False) renders it with the file's chat template (see index.d.ts for the options).
   */
  applyChatTemplate(messages, options) {
    return applyChatTemplate(this, messages, options);
  }

  /** Text of ids (control tokens skipped, SentencePiece leading space removed; see detokenize options). */
  decode(ids, options) {
    return this.detokenize(ids, options);
  }
}
