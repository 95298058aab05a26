// Registry: config.json "architectures" value -> architecture module.
import * as gpt2 from './gpt2.js';
import * as llama from './llama.js';
import * as bert from './bert.js';
import * as t5 from './t5.js';
import { qwen3, gemma2, gemma3, phi3 } from './decoders.js';
import { xlmRoberta, nomicBert } from './encoders.js';

export const ARCHITECTURES = [gpt2, llama, bert, t5, qwen3, gemma2, gemma3, phi3, xlmRoberta, nomicBert];

const BY_HF_NAME = new Map();
for (const a of ARCHITECTURES) for (const n of a.hfArchitectures) BY_HF_NAME.set(n, a);

/** The module converting HF architecture `hfName`, or undefined. */
export function archFor(hfName) {
  return BY_HF_NAME.get(hfName);
}

export function supportedArchitectures() {
  return [...BY_HF_NAME.keys()];
}
