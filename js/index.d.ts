// Type declarations of plm-wasm (Node 20+ and browsers).

/**
 * Where a model comes from. Strings are file paths in Node (URLs if they start with http(s)://)
 * and URLs in browsers (relative to the page); `hf://owner/repo/file.gguf` (or
 * `hf://owner/repo@revision/file.gguf`) is a Hugging Face file. A name ending in
 * `-00001-of-0000N.gguf` stands for all N files of a split model.
 */
export type ModelSource =
  | string
  | URL
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | ResolvedSource
  | ModelSource[]; // split GGUF files, in order

/** One GGUF file as a stream of byte chunks (the iterable may reuse its buffer between chunks). */
export interface SourceShard {
  name: string;
  /** Total bytes if known (may be set once open() has started). */
  size?: number;
  /** Each chunk is a fresh buffer the consumer may keep (transfer to a worker); default false. */
  owned?: boolean;
  open(signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** The file's size without reading it (e.g. a HEAD request), so that a split model too large for wasm memory is refused before any download. */
  probeSize?(signal?: AbortSignal): Promise<number | undefined>;
  /** Called when the loader needs no more bytes of this file (it may stop reading early). */
  finished?(): void;
}

export interface ResolvedSource {
  name: string;
  shards: SourceShard[];
}

/** Turns an input into a ResolvedSource, or returns null to let the next resolver try. */
export type SourceResolver = (input: unknown, options?: SourceOptions) => ResolvedSource | null | Promise<ResolvedSource | null>;

/** How URLs are fetched. */
export interface SourceOptions {
  /** Read and write the model cache (default true; see ModelCache). false: always download, store nothing. */
  cache?: boolean;
  /** Retries after a dropped connection / network error / HTTP 5xx without progress (default 5); downloads resume with Range requests. */
  retries?: number;
  /** First retry delay in ms, doubled each time (default 300). */
  retryDelay?: number;
  /**
   * Read timeout in ms: a connection that delivers no byte (or no response headers) for this
   * long counts as dropped and is resumed / retried like one (`retries`), then fails with
   * "read timeout: no data for N ms". Default: 30000 (browsers' fetch() has none, and a request
   * that never gets an answer would otherwise hold the load for good); `Infinity`: none. Unlike
   * `signal: AbortSignal.timeout(ms)` (a bound on the whole load), a slow but steady download
   * never trips it.
   */
  timeout?: number;
  /**
   * The file's SHA-256, checked while it streams: 'sha256-<base64>' (Subresource Integrity),
   * 'sha256:<hex>' or 64 hex digits (the hash Hugging Face shows for LFS files). Split models:
   * one per file, in order (null entries: unchecked). The whole file is read (also by vocab-only
   * loads); a mismatch is a PlmError naming the file and both hashes, and nothing is cached.
   * Cached copies record their hash: a load asking for another one downloads the file again.
   */
  integrity?: string | (string | null | undefined)[];
  /** The fetch function (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Base for relative URLs (default: the page). */
  baseUrl?: string | URL;
  /** Hugging Face endpoint for hf:// references (default https://huggingface.co). */
  hfEndpoint?: string;
}

export interface LoadProgress {
  /** Bytes received so far. */
  loaded: number;
  /** Total bytes, when known. */
  total: number | undefined;
  /** 'download': bytes streaming in (and being parsed); 'parse': building the model; 'ready': done. */
  phase: 'download' | 'parse' | 'ready';
}

/**
 * The wasm builds: scalar; SIMD128; SIMD128 + shared-memory threads; the same two with relaxed SIMD
 * (chosen first where the engine has it: Chromium, Firefox, Node >= 22; Node 20 with
 * --experimental-wasm-relaxed-simd).
 */
export type Build = 'scalar' | 'simd' | 'simd-mt' | 'relaxed' | 'relaxed-mt';

export interface EngineOptions {
  /** Threads for the kernels. Default: hardware concurrency. 1 selects the single-thread SIMD build. */
  threads?: number;
  /** Force a build (tests, benchmarks). Default: chosen from threads and the engine's features. */
  build?: Build;
  /** Base URL of plm.wasm / plm-simd.wasm / plm-simd-mt.wasm / plm-relaxed.wasm / plm-relaxed-mt.wasm (default: the package's dist/). */
  wasmBaseUrl?: string | URL;
  /** Where C's stdout / stderr lines go (default console.log / console.error). */
  log?: (line: string) => void;
  error?: (line: string) => void;
}

export interface LoadOptions extends EngineOptions, SourceOptions {
  onProgress?: (progress: LoadProgress) => void;
  /** Cancels the download / load; nothing stays allocated. */
  signal?: AbortSignal;
  /**
   * Run the model in a worker (a Web Worker in browsers, worker_threads in Node) behind the same API.
   * Default: true on a web page's main thread, false in Node and inside workers (and when `engine` is given).
   * Synchronous methods (tokenize, detokenize, ...) stay synchronous: they run on this thread on a
   * vocab-only copy of the model read from the file's header.
   */
  worker?: boolean;
  /** Load into an existing Engine (shared memory and threads) instead of creating one; dispose() then leaves it running. */
  engine?: Engine;
}

export interface GPTLoadOptions extends LoadOptions {
  /** KV-cache size in tokens (default: the model's context length). */
  contextLength?: number;
}

export interface TokenizerInfo {
  type: string;
  bos?: number;
  eos?: number;
  [key: string]: unknown;
}

/** What plm_model_info reports. */
export interface ModelInfo {
  architecture: string;
  name?: string;
  contextLength: number;
  vocabSize: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  nParams: number;
  fileType: string | number;
  tensorTypes?: Record<string, number>;
  tokenizer?: TokenizerInfo;
  [key: string]: unknown;
}

export interface TokenizeOptions {
  /** Add the model's special tokens (BOS for LLaMA, [CLS]/[SEP] for BERT, </s> for T5; GPT-2 adds none). Default true. */
  addSpecial?: boolean;
  /**
   * Special-token text such as "<|endoftext|>" or "<|im_start|>" in the input becomes that
   * token, as Hugging Face tokenizers and llama.cpp (parse_special) do. Default true; false keeps
   * it as ordinary text (user input that must not smuggle control tokens into a prompt).
   */
  parseSpecial?: boolean;
}

export interface DetokenizeOptions {
  /** Control tokens (BOS, EOS, ...) produce no text; SentencePiece models (LLaMA, T5) show an unknown token as " \u2047 " as sentencepiece does, others drop it. Default true. */
  skipSpecial?: boolean;
  /** Drop the leading space a SentencePiece tokenizer adds (as sentencepiece's decode). Default true. */
  stripLeadingSpace?: boolean;
}

export interface GenerateOptions {
  /** Tokens to generate at most. Default 128. */
  maxTokens?: number;
  /** 0 = greedy (argmax). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = off. Default 40. */
  topK?: number;
  /** Nucleus sampling; 1 = off. Default 0.95. */
  topP?: number;
  /** Drop tokens with probability below minP * the top probability; 0 = off. Default 0.05. */
  minP?: number;
  /** HF/CTRL repetition penalty over the last penaltyLastN tokens (prompt included); 1 = off. Default 1. */
  repetitionPenalty?: number;
  /** Window of the repetition penalty; 0 = all tokens. Default 64. */
  penaltyLastN?: number;
  /** Random seed (integer). Default: random. */
  seed?: number;
  /** Stop when the generated text contains one of these; the stop string and anything after it are not returned. */
  stop?: string | string[];
  /** Keep going after an end-of-generation token. Default false. */
  ignoreEos?: boolean;
  /** Stop between tokens when aborted (the promise / iterator rejects with signal.reason). */
  signal?: AbortSignal;
  /**
   * A prompt that does not fit the context is an error (PlmError, code Status.TOO_LONG) unless
   * truncate is 'start': then its start is dropped (a leading BOS is kept) so that
   * min(maxTokens, contextLength / 2) tokens can be generated.
   */
  truncate?: 'start';
  /**
   * Keep the longest common prefix of this prompt and the tokens already in the KV cache
   * (the previous prompt + the generated tokens that were decoded) and run only the rest:
   * a chat that re-sends the whole conversation pays only for the new turn. The results are
   * the same as without reuse. false = run the whole prompt (e.g. to time the prefill). Default true.
   */
  reusePrefix?: boolean;
  /**
   * Beam search with this many beams (transformers' generate(num_beams), src/beam.c); default 1
   * (sampling / greedy). The best beam's tokens come when the search ends; sampling options are ignored.
   */
  numBeams?: number;
  /** Beam scores are summed log-probabilities / length^lengthPenalty (default 1; < 0 favours short outputs). */
  lengthPenalty?: number;
  /** transformers' rule: true = stop at numBeams finished hypotheses, false (default) = its heuristic, 'never' = exact. */
  earlyStopping?: boolean | 'never';
  /**
   * Constrain the output to a GBNF grammar (llama.cpp's format, start symbol `root`): GBNF text
   * or a Grammar. Only tokens that keep the text inside the grammar are sampled; an
   * end-of-generation token only when the text is complete (it then always ends the generation).
   * A generation cut by maxTokens / stop / the context may be incomplete (finishReason tells).
   */
  grammar?: string | Grammar;
  /** JSON output: any JSON object, or one that matches a JSON Schema (see jsonSchemaToGrammar). */
  responseFormat?: ResponseFormat;
  /** Added to the logits before sampling: { [tokenId]: bias }; -Infinity bans a token. */
  logitBias?: Record<number, number> | Map<number, number>;
  /** Return the log-probability of each generated token (complete() / chat(): result.logprobs). */
  logprobs?: boolean;
  /** Also the k most likely tokens at each step (implies logprobs). Default 0. */
  topLogprobs?: number;
}

/** Log-probabilities of one generated token: log-softmax of the row sampled from (logits + logitBias). */
export interface TokenLogprob {
  token: number;
  logprob: number;
  topLogprobs: { token: number; logprob: number }[];
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: object | boolean }
  | { type: 'json_schema'; json_schema: { schema: object | boolean; name?: string; strict?: boolean } };

/**
 * A GBNF grammar parsed by the core (parse once, reuse across generations). A malformed
 * grammar throws a PlmError (status 'FORMAT') with .line and .column.
 */
export declare class Grammar {
  /** Parses in options.engine, else in the latest engine of this thread (any loaded model's); throws if there is none (use Grammar.create). */
  constructor(source: string, options?: { engine?: Engine });
  /** Like the constructor, starting a small single-thread engine when this thread has none. */
  static create(source: string, options?: { engine?: Engine; build?: Build; wasmBaseUrl?: string | URL }): Promise<Grammar>;
  /** The grammar of a JSON Schema. */
  static fromJsonSchema(schema: object | string, options?: { engine?: Engine }): Grammar;
  /** The GBNF text. */
  readonly source: string;
  /** Whether the whole text is a sentence of the grammar. */
  matches(text: string, options?: { engine?: Engine }): boolean;
  /** Free the parsed copies now (otherwise when garbage-collected). */
  dispose(): void;
  /** The plm_grammar pointer in an engine (parsed there on first use; for low-level calls through engine.fn). */
  pointerIn(engine: Engine): number;
}

/**
 * JSON Schema -> GBNF (llama.cpp's json-schema-to-grammar coverage and conventions: properties in
 * order, optional ones may be left out, additionalProperties false unless given; enum, const, type
 * arrays, string min/maxLength, pattern, format date/time/date-time/uuid, integer bounds, items,
 * prefixItems, min/maxItems, anyOf/oneOf/allOf, local $ref/$defs). Unsupported keywords throw a
 * SchemaError naming them; `relaxed` lists accepted constraints that are not enforced
 * (uniqueItems, bounds of non-integer numbers).
 */
export declare function jsonSchemaToGrammar(schema: object | boolean | string): { grammar: string; relaxed: string[] };
export declare class SchemaError extends TypeError {
  path?: string;
}

export interface GeneratedToken {
  /** The token id. */
  token: number;
  /** Text that became decodable with this token (may be ''; never half a character). */
  text: string;
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'context';

export interface GenerationStats {
  promptTokens: number;
  /** Prompt tokens whose keys/values were reused from the previous generation (not recomputed). */
  cachedTokens: number;
  generatedTokens: number;
  /** Time of the prompt pass. */
  prefillMs: number;
  /** Compute time of the generated tokens (sampling + one decode step each). */
  decodeMs: number;
  /** (promptTokens - cachedTokens) / prefillMs. */
  promptTokensPerSecond: number;
  /** generatedTokens / decodeMs. */
  tokensPerSecond: number;
  /** With a grammar: time spent masking logits (included in decodeMs). */
  grammarMs?: number;
  /** With responseFormat json_schema: schema constraints accepted but not enforced. */
  grammarRelaxed?: string[];
}

export interface Completion {
  /** The generated text (a continuation of the prompt; stop string excluded). */
  text: string;
  tokens: Int32Array;
  finishReason: FinishReason;
  stats: GenerationStats;
  /** numBeams > 1: the length-normalised log-probability of the returned sequence. */
  score?: number;
  /** With logprobs / topLogprobs: one entry per token of `tokens`. */
  logprobs?: TokenLogprob[];
}

export interface Runtime {
  /** Whether the model runs in a worker (its methods are forwarded there). */
  worker: boolean;
  build: Build;
  threads: number;
  /** Why fewer threads than requested run (e.g. a page that is not cross-origin isolated), or why the relaxed-SIMD build could not be loaded; or null. */
  fallback: string | null;
}

declare class Model {
  /** The name the package exports the class under (worker mode finds the class by it). */
  static readonly exportName: string;
  /**
   * The worker contract: the synchronous methods that, in worker mode, run on the page
   * (on a vocab-only copy of the model); a subclass adds its own. Every other method is
   * async and runs in the worker.
   */
  static readonly local: readonly string[];
  /** Worker mode (web pages): the class's own module worker, { script (under js/), start() }; undefined if it has none. */
  static readonly modelWorker?: { readonly script: string; start(): Worker };
  /** The Engine the model lives in (worker mode: the engine of the vocab-only copy on this thread). */
  readonly engine: Engine;
  readonly info: ModelInfo;
  readonly disposed: boolean;
  /** Where and how the model runs. */
  readonly runtime: Runtime;
  /** All GGUF metadata (arrays longer than maxElems are cut; default 16). */
  metadata(maxElems?: number): Record<string, unknown>;
  /** Raw bytes of one token as it appears in text (may be part of a UTF-8 character). */
  tokenBytes(id: number, flags?: number): Uint8Array;
  /** Whether id ends generation (EOS or another end-of-generation token). */
  isEog(id: number): boolean;
  /** Free everything (and the engine, if load() created it). */
  dispose(): void;
}

export declare class GPT extends Model {
  static load(source: ModelSource, options?: GPTLoadOptions): Promise<GPT>;
  /** KV-cache size in tokens. */
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Stats of the last finished generation. */
  lastStats?: GenerationStats;
  /** finishReason of the last finished generation. */
  lastFinishReason?: FinishReason;
  tokenize(text: string, options?: TokenizeOptions): Int32Array;
  detokenize(ids: ArrayLike<number>, options?: DetokenizeOptions): string;
  /** Logits of every position (row-major [ids.length][vocabSize]) computed in a fresh context (the next generation then reuses nothing). */
  logits(ids: ArrayLike<number>): Promise<Float32Array>;
  /**
   * Stream a continuation. prompt: a string (tokenized with the model's special tokens,
   * e.g. BOS for LLaMA) or token ids used as given (empty = start from BOS).
   * Generations on one model run one at a time: a second call waits for the first.
   */
  generate(prompt: string | ArrayLike<number>, options?: GenerateOptions): AsyncGenerator<GeneratedToken, void, undefined>;
  complete(prompt: string | ArrayLike<number>, options?: GenerateOptions): Promise<Completion>;
  /** The conversation's prompt text, rendered with the file's chat template (see ChatTemplateOptions). */
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): string;
  /**
   * Token ids of the conversation's prompt: template markup with special tokens parsed, message
   * contents literal (unless parseSpecialInContent), no BOS added beyond what the template writes.
   */
  chatPromptIds(messages: ChatMessage[], options?: ChatTemplateOptions & { parseSpecialInContent?: boolean }): Int32Array;
  /**
   * The assistant's answer to a conversation: template -> tokens -> generation that stops at
   * the model's end-of-turn tokens. Re-sending the conversation with the answer appended
   * reuses the KV cache (only the new turn is run).
   */
  chat(messages: ChatMessage[], options?: ChatOptions): Promise<ChatResult>;
  /** chat() streamed: { token, text, reasoning } chunks (reasoning: the text is inside <think>…</think>); returns chat()'s result. */
  chatStream(messages: ChatMessage[], options?: ChatOptions): AsyncGenerator<ChatChunk, ChatResult, undefined>;
  /** OpenAI's chat.completions.create: a chat.completion, or chat.completion.chunk objects with stream: true. */
  createChatCompletion(request: ChatCompletionRequest & { stream: true }): AsyncIterable<ChatCompletionChunk>;
  createChatCompletion(request: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
  createChatCompletion(request: ChatCompletionRequest): Promise<ChatCompletion> | AsyncIterable<ChatCompletionChunk>;
}

export declare class Tokenizer extends Model {
  /** The conversation's prompt text, rendered with the file's chat template (see ChatTemplateOptions). */
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): string;
  /** Load only the tokenizer of a GGUF (works on vocab-only files). */
  static load(source: ModelSource, options?: LoadOptions): Promise<Tokenizer>;
  readonly vocabSize: number;
  encode(text: string, options?: TokenizeOptions): Int32Array;
  decode(ids: ArrayLike<number>, options?: DetokenizeOptions): string;
  tokenize(text: string, options?: TokenizeOptions): Int32Array;
  detokenize(ids: ArrayLike<number>, options?: DetokenizeOptions): string;
}

export type BERTInput = string | Int32Array | ArrayLike<number>;
/** Several inputs in one call: texts, [text, pair] sentence pairs, or token-id arrays. */
export type BERTBatch = Array<string | [string, string] | Int32Array | number[]>;

export interface BERTInputOptions {
  /** Second text of a sentence pair: [CLS] text [SEP] pair [SEP], token types 0.. then 1... */
  pair?: string;
  /** Add [CLS] / [SEP]. Default true. */
  addSpecial?: boolean;
  /** Special-token text such as "[MASK]" becomes that token (as Hugging Face). Default true. */
  parseSpecial?: boolean;
  /** Token types of token-id input (default all 0). */
  typeIds?: ArrayLike<number>;
  /**
   * A text longer than the context is an error (PlmError, Status.TOO_LONG) unless truncate is
   * set: then it is cut as Hugging Face's truncation=True does (longest_first for pairs, the
   * special tokens kept). Token-id input is never truncated.
   */
  truncate?: boolean;
}

export interface EmbedOptions extends BERTInputOptions {
  /** 'mean' (over the tokens, as sentence-transformers), 'cls' (first token) or 'last'. Default: the file's bert.pooling_type, else 'mean'. */
  pooling?: 'mean' | 'cls' | 'last';
  /** L2-normalize (unit length). Default true. */
  normalize?: boolean;
}

export interface HiddenStates {
  /** Row-major [seqLen][hiddenSize]. */
  data: Float32Array;
  dims: [number, number];
}

export interface MaskedLogits {
  /** Row-major [positions.length][vocabSize]. */
  data: Float32Array;
  dims: [number, number];
  positions: number[];
  /** The token ids the model saw. */
  ids: Int32Array;
}

export interface FillMaskResult {
  /** The token's text (e.g. "capital", "##s"). */
  token: string;
  tokenId: number;
  /** Softmax probability at the masked position. */
  score: number;
  /** The input with this token in place of the mask (special tokens dropped when there is one mask, as Hugging Face). */
  sequence: string;
}

export interface ClassifyResult {
  label: string;
  score: number;
}

export declare class BERT extends Model {
  /** Load a BERT GGUF (general.architecture "bert"); other architectures are rejected (Status.UNSUPPORTED). */
  static load(source: ModelSource, options?: LoadOptions): Promise<BERT>;
  readonly hiddenSize: number;
  /** Longest input in tokens, special tokens included (512 for bert-base). */
  readonly contextLength: number;
  readonly vocabSize: number;
  /** The file's bert.pooling_type, or null when it declares none. */
  readonly pooling: 'mean' | 'cls' | 'last' | 'rank' | null;
  /** Task heads in the file (llama.cpp's converter writes none; `plm-wasm convert` keeps them). */
  readonly heads: { pooler: boolean; mlm: boolean; classifier: boolean };
  /** Classifier labels in id order ([] without a classifier). */
  readonly labels: string[];
  tokenize(text: string, options?: { pair?: string; addSpecial?: boolean; parseSpecial?: boolean }): { ids: Int32Array; typeIds: Int32Array };
  detokenize(ids: ArrayLike<number>, options?: DetokenizeOptions): string;
  /** Last hidden state of one input, or of each input of a batch. */
  hiddenStates(input: BERTInput, options?: BERTInputOptions): Promise<HiddenStates>;
  hiddenStates(input: BERTBatch, options?: BERTInputOptions): Promise<HiddenStates[]>;
  /** Sentence embedding(s); a batch runs in one pass and gives the same numbers as one text at a time. */
  embed(input: BERTInput, options?: EmbedOptions): Promise<Float32Array>;
  embed(input: BERTBatch, options?: EmbedOptions): Promise<Float32Array[]>;
  /** Hugging Face's pooler_output, tanh(W h[CLS] + b). Needs the pooler head (Status.MISSING otherwise). */
  pooledOutput(input: BERTInput, options?: BERTInputOptions): Promise<Float32Array>;
  pooledOutput(input: BERTBatch, options?: BERTInputOptions): Promise<Float32Array[]>;
  /** Masked-LM logits at the given positions (default: the [MASK] tokens). Needs the MLM head. */
  maskedLogits(input: BERTInput, options?: BERTInputOptions & { positions?: ArrayLike<number> }): Promise<MaskedLogits>;
  /** Top candidates for the [MASK] (one array per mask when there are several). Needs the MLM head. */
  fillMask(input: BERTInput, options?: BERTInputOptions & { topK?: number }): Promise<FillMaskResult[] | FillMaskResult[][]>;
  /** Labels with scores, best first. Needs the classifier head. */
  classify(input: BERTInput, options?: BERTInputOptions & { topK?: number; functionToApply?: 'softmax' | 'sigmoid' | 'none' }): Promise<ClassifyResult[]>;
  classify(input: BERTBatch, options?: BERTInputOptions & { topK?: number; functionToApply?: 'softmax' | 'sigmoid' | 'none' }): Promise<ClassifyResult[][]>;
  /** Cross-encoder reranking (a one-output classifier): documents sorted by the score of (query, document). */
  rerank(query: string, documents: string[], options?: BERTInputOptions & { topK?: number; functionToApply?: 'sigmoid' | 'none' }): Promise<{ index: number; score: number; document: string }[]>;
  /** Cosine similarity of two vectors. */
  similarity(a: ArrayLike<number>, b: ArrayLike<number>): number;
}

export interface T5LoadOptions extends LoadOptions {
  /** Longest input and longest output in tokens (default: the model's context length, 512 for T5). */
  contextLength?: number;
}

/** Input of the encoder: a text (tokenized with the closing </s>) or token ids, used as given. */
export type T5Input = string | Int32Array | ArrayLike<number>;

export interface T5InputOptions {
  /** 1 = token, 0 = padding (ignored as a key by the encoder and the cross-attention), one per input id. */
  attentionMask?: ArrayLike<number>;
  /** Cut a text longer than the context (keeping </s>), as Hugging Face's truncation; default: Status.TOO_LONG. */
  truncate?: boolean;
}

export interface T5GenerateOptions extends Omit<GenerateOptions, 'ignoreEos' | 'truncate' | 'reusePrefix' | 'logitBias' | 'logprobs' | 'topLogprobs'> {
  /** Beam search with this many beams (default 1: greedy, or sampling with a temperature > 0). */
  numBeams?: number;
  /** Beam scores are summed log-probabilities / length^lengthPenalty (default 1; < 0 favours short outputs). */
  lengthPenalty?: number;
  /** transformers' rule: true = stop at numBeams finished hypotheses, false (default) = its heuristic, 'never' = exact. */
  earlyStopping?: boolean | 'never';
  /** Cut an input text longer than the context. */
  truncate?: boolean;
}

export interface T5Stats {
  inputTokens: number;
  generatedTokens: number;
  numBeams: number;
  encodeMs: number;
  /** Time in decoder steps (and sampling / beam bookkeeping). */
  decodeMs: number;
  encoderTokensPerSecond: number;
  tokensPerSecond: number;
}

export interface T5Completion {
  text: string;
  /** Output ids (no decoder start token, no </s>). */
  tokens: Int32Array;
  finishReason: FinishReason;
  stats: T5Stats;
  /** numBeams > 1: the length-normalised log-probability of the returned sequence. */
  score?: number;
}

export interface T5Info {
  /** 'relu' (T5 v1.0) or 'gated-gelu' (T5 v1.1, FLAN-T5). */
  ffn: 'relu' | 'gated-gelu';
  /** LM head tied to the embeddings (logits rescaled by d_model^-0.5, as Hugging Face). */
  tiedEmbeddings: boolean;
  decoderStartTokenId: number;
  encoderBlocks: number;
  decoderBlocks: number;
  relativeBuckets: number;
  maxDistance: number;
  contextLength: number;
  headCount: number;
  keyLength: number;
}

export declare class T5 extends Model {
  /** Load a T5 GGUF (general.architecture "t5"); other architectures are rejected (TypeError). */
  static load(source: ModelSource, options?: T5LoadOptions): Promise<T5>;
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly t5Info: T5Info;
  /** Stats of the last finished generation. */
  lastStats?: T5Stats;
  /** Token ids of a text; addSpecial (default true) appends </s>. */
  tokenize(text: string, options?: TokenizeOptions): Int32Array;
  detokenize(ids: ArrayLike<number>, options?: DetokenizeOptions): string;
  /** The encoder's last hidden state, dims [seqLen, dModel]. */
  encode(input: T5Input, options?: T5InputOptions): Promise<HiddenStates>;
  /** Decoder logits for given decoder ids (teacher forcing): decoderIds.length * vocabSize values. */
  logits(input: T5Input, decoderIds: ArrayLike<number>, options?: T5InputOptions): Promise<Float32Array>;
  /** Stream the output text; with numBeams > 1 the best beam's tokens come when the search ends. */
  generate(input: T5Input, options?: T5GenerateOptions): AsyncGenerator<GeneratedToken, void, undefined>;
  complete(input: T5Input, options?: T5GenerateOptions): Promise<T5Completion>;
}

export declare const T5_GENERATE_DEFAULTS: Readonly<{
  maxTokens: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  penaltyLastN: number;
}>;

export declare const GENERATE_DEFAULTS: Readonly<{
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  penaltyLastN: number;
}>;

/** Status codes of the C core (plm.h). */
export declare const Status: Readonly<{
  OK: 0;
  INVALID: -1;
  FORMAT: -2;
  TRUNCATED: -3;
  UNSUPPORTED: -4;
  NOMEM: -5;
  TOO_LONG: -6;
  MISSING: -7;
  STATE: -8;
}>;

/** An error reported by the C core. */
export declare class PlmError extends Error {
  /** Negative Status value. */
  code: number;
  /** Name of the status ('TOO_LONG', 'FORMAT', ...). */
  status: string;
  /** Grammar parse errors: where (1-based). */
  line?: number;
  column?: number;
}

/** One instance of the wasm core: memory, exports, thread pool. */
export declare class Engine {
  static create(options?: EngineOptions): Promise<Engine>;
  /** The most recently created engine of this thread that is not disposed, or null. */
  static latest(): Engine | null;
  readonly build: Build;
  /** Threads actually running (1 for single-thread builds). */
  readonly threads: number;
  /** Why fewer threads than requested run (null if none). */
  threadsFallback: string | null;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly instance: WebAssembly.Instance;
  /** Raw exports (the plm_* functions of src/plm.h). */
  readonly fn: Record<string, any>;
  readonly disposed: boolean;
  /** Whole-memory view, refreshed after memory growth. */
  readonly u8: Uint8Array;
  view<T extends Int32Array | Float32Array | Uint8Array | Uint32Array>(type: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T }, ptr: number, length: number): T;
  malloc(n: number, what?: string): number;
  free(ptr: number): void;
  /** Bytes currently allocated by the core (leak checks). */
  heapUsed(): number;
  /** Size of the wasm memory in bytes (never shrinks). */
  memoryBytes(): number;
  cstring(ptr: number): string;
  decode(ptr: number, length: number): string;
  bytes(ptr: number, length: number): Uint8Array;
  check(rc: number): number;
  checkPtr(ptr: number): number;
  lastError(rc?: number): PlmError;
  scoped<T>(fn: (scope: {
    alloc(n: number, what?: string): number;
    string(s: string): { ptr: number; len: number };
    i32(values: ArrayLike<number>): number;
  }) => T): T;
  /** Stop the workers and drop the instance (models in it become unusable). */
  dispose(): void;
}

export interface Features {
  simd: boolean;
  /** WebAssembly relaxed SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s validates). */
  relaxedSimd: boolean;
  threads: boolean;
  hardwareConcurrency: number;
}
export declare function detectFeatures(): Features;
export declare function chooseBuild(options?: { threads?: number; build?: Build }): { build: Build; threads: number; fallback: string | null };

/** Add a source resolver (tried before the built-in ones). */
export declare function registerSourceResolver(resolver: SourceResolver): void;
/** The files a source stands for (split names expanded, hf:// resolved, relative URLs against the page), not read yet. */
export declare function resolveSource(input: ModelSource, options?: SourceOptions): Promise<ResolvedSource>;

/** Replace platform hooks (embedders: custom worker creation, wasm fetching). */
export declare function setPlatform(overrides: Record<string, unknown>): void;

/** hf://owner/repo[@revision]/path/file.gguf -> https://huggingface.co/owner/repo/resolve/<revision>/path/file.gguf */
export declare function resolveHfUrl(ref: string, options?: { hfEndpoint?: string }): URL;

export interface CachedModel {
  url: string;
  size?: number;
  /** ISO date of the download. */
  date?: string;
  /** The file's SHA-256 (hex), when it was computed (integrity checks; always in Node). */
  sha256?: string;
  /** Node: the file in the cache directory. */
  path?: string;
}

/** A cache backend (see js/core/cache.js for the contract). */
export interface CacheStore {
  /** A complete cached file, or null. `reused`: chunks are views of one buffer, reused between chunks. */
  get(url: string): Promise<{ size: number; sha256?: string; reused?: boolean; chunks(signal?: AbortSignal): AsyncIterable<Uint8Array> } | null>;
  writer(url: string, info: { size?: number }): Promise<{ write(chunk: Uint8Array): Promise<void>; commit(info?: { sha256?: string }): Promise<unknown>; abort(): Promise<void> } | null>;
  list(): Promise<CachedModel[]>;
  delete(url: string): Promise<boolean>;
}

/**
 * Downloaded model files (browsers: Cache Storage; Node: a directory, $PLM_CACHE_DIR or
 * ~/.cache/plm-wasm). A file is stored only once complete, and reused by later loads without
 * network. Arguments are URLs or hf:// references (split names: all parts).
 */
export declare const ModelCache: {
  list(): Promise<CachedModel[]>;
  has(source: string | URL): Promise<boolean>;
  delete(source: string | URL): Promise<number>;
  clear(): Promise<number>;
  /** Another store, null for the platform's, false to disable caching. */
  setStore(store: CacheStore | null | false): void;
  /** Node: the cache directory (assign to change it; null = the default). */
  directory?: string | null;
};

/** A started model worker, as remote.js talks to it. */
export interface ModelWorkerPort {
  post(message: unknown, transfer?: Transferable[]): void;
  onMessage(handler: (message: any) => void): void;
  onError(handler: (error: Error) => void): void;
  terminate(): void;
  ref(): void;
  unref(): void;
}
/** Replace how model workers are started (embedders with their own worker setup; js/worker.js serves every class). */
export declare function setModelWorkerFactory(factory: (modelClass: { readonly exportName: string }) => ModelWorkerPort): void;

// ------------------------------------------------------------------ chat

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content: string;
  /** Assistant thinking (Qwen3's template reads it as reasoning_content). */
  reasoning_content?: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
  name?: string;
  [key: string]: unknown;
}

/**
 * Rendered as transformers' tokenizer.apply_chat_template(messages, tokenize=False, ...) with
 * Python's jinja2 (trim_blocks, lstrip_blocks, loop controls, tojson keeping non-ASCII,
 * raise_exception -> PlmError, strftime_now).
 */
export interface ChatTemplateOptions {
  /** Jinja source to use instead of the file's tokenizer.chat_template. */
  chatTemplate?: string;
  /** A named template of the file (tokenizer.chat_template.<name>, e.g. 'tool_use'). */
  template?: string;
  /** End with the assistant's turn header (add_generation_prompt). Default true. */
  addGenerationPrompt?: boolean;
  /** Tool (function) schemas, as transformers' tools argument. */
  tools?: unknown[];
  /** RAG documents, as transformers' documents argument. */
  documents?: unknown[];
  /** Extra template variables (e.g. enable_thinking, date_string); they override the defaults. */
  variables?: Record<string, unknown>;
  /** The time strftime_now() reads. Default: now. */
  now?: Date;
}

/** Resolves once the Jinja engine (@huggingface/jinja, loaded lazily) is ready; model loads wait for it. */
export declare const chatTemplatesReady: Promise<void>;

/** Render a Jinja chat template without a model (specialTokens: bos_token, eos_token, ...); after chatTemplatesReady. */
export declare function renderChatTemplate(
  source: string,
  messages: ChatMessage[],
  options?: Omit<ChatTemplateOptions, 'chatTemplate' | 'template'> & { specialTokens?: Record<string, string> },
): string;

export interface ChatOptions extends ChatTemplateOptions, GenerateOptions {
  /** Split <think>…</think> off into message.reasoning. Default true. */
  parseReasoning?: boolean;
  /** Special-token text inside message contents becomes special tokens. Default false. */
  parseSpecialInContent?: boolean;
  /**
   * A conversation too long for the context drops its oldest turns (system messages kept) until
   * min(maxTokens, contextLength / 4) tokens fit after the prompt (result.droppedMessages).
   * Without it such a prompt is an error (Status.TOO_LONG) as in generate(). Default false.
   */
  contextShift?: boolean;
}

export interface ChatChunk extends GeneratedToken {
  /** true while the text is the model's thinking (inside <think>…</think>). */
  reasoning: boolean;
}

export interface ChatResult {
  message: { role: 'assistant'; content: string; reasoning?: string };
  /** Everything generated, think tags included. */
  text: string;
  tokens: Int32Array;
  finishReason: FinishReason;
  stats: GenerationStats;
  logprobs?: TokenLogprob[];
  /** With contextShift: how many of the oldest messages were left out to fit the context. */
  droppedMessages?: number;
}

/** The subset of OpenAI's chat.completions.create request that maps onto this library. */
export interface ChatCompletionRequest {
  messages: ChatMessage[];
  model?: string;
  stream?: boolean;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stop?: string | string[] | null;
  seed?: number | null;
  /** Structured output: { type: 'text' | 'json_object' } or { type: 'json_schema', json_schema: { name?, schema, strict? } } (GenerateOptions.responseFormat). */
  response_format?: ResponseFormat | null;
  /** llama.cpp server's extension: a GBNF grammar (GenerateOptions.grammar). */
  grammar?: string | null;
  /** { "tokenId": bias } added to the logits (-100 .. 100). */
  logit_bias?: Record<string, number> | null;
  /** Non-streamed requests only (a stream with logprobs is UNSUPPORTED). */
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  n?: number | null;
  signal?: AbortSignal;
  [key: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string; reasoning_content?: string; refusal: null };
    logprobs: { content: { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }[]; refusal: null } | null;
    finish_reason: 'stop' | 'length';
  }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number; prompt_tokens_details: { cached_tokens: number } };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: { index: number; delta: { role?: 'assistant'; content?: string; reasoning_content?: string }; logprobs: null; finish_reason: 'stop' | 'length' | null }[];
  usage?: ChatCompletion['usage'] | null;
}
