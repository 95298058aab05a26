// Type declarations of plm-wasm/embed (js/embed.js): live models in static pages as
// custom elements. Importing the module defines <plm-generate>, <plm-fill-mask>,
// <plm-similarity> and <plm-text2text>; see the comment at the top of js/embed.js
// for their attributes.

import type { GPT, BERT, T5, LoadProgress, FillMaskResult, T5Completion } from './index.js';

/** The model for (class, url), loaded once per page and shared by every element that names it. */
export declare function sharedModel<M extends GPT | BERT | T5>(
  Cls: { load(source: string, options?: object): Promise<M> },
  url: string,
  onProgress?: (progress: LoadProgress) => void,
): Promise<M>;

/** What the elements share: the editable input, a run button, a status line. */
declare class PlmElement extends HTMLElement {
  /** Run the model on the current input; the result comes as a `plm-result` event (failures: `plm-error`). */
  run(): Promise<void>;
  /** The element's model (loaded at the first call, shared with the page's other elements naming it). */
  model(): Promise<GPT | BERT | T5>;
}

/** <plm-generate model max-tokens temperature top-k seed autorun preload>: text generation, streamed. detail: { prompt, text }. */
export declare class PlmGenerate extends PlmElement {}
/** <plm-fill-mask model top-k>: the [MASK] candidates. detail: FillMaskResult[]. */
export declare class PlmFillMask extends PlmElement {}
/** <plm-similarity model>: one sentence per line, cosine similarity matrix. detail: { sentences, matrix }. */
export declare class PlmSimilarity extends PlmElement {}
/** <plm-text2text model beams max-tokens>: T5 text-to-text. detail: T5Completion. */
export declare class PlmText2Text extends PlmElement {}

export interface PlmResultDetail {
  'plm-generate': { prompt: string; text: string };
  'plm-fill-mask': FillMaskResult[];
  'plm-similarity': { sentences: string[]; matrix: number[][] };
  'plm-text2text': T5Completion;
}

declare global {
  interface HTMLElementTagNameMap {
    'plm-generate': PlmGenerate;
    'plm-fill-mask': PlmFillMask;
    'plm-similarity': PlmSimilarity;
    'plm-text2text': PlmText2Text;
  }
}
