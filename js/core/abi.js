// abi.js — the constants of the WASM ABI, for the JS side. Their one source is
// src/plm.h: tests/js/abi.test.mjs parses its enums and fails when a value here
// differs from the header's, or when the header has an enum constant that is
// missing here. (JS name X = plm.h's PLM_X; Status.X = PLM_E_X, Status.OK = PLM_OK.)

/** Status codes (enum plm_status: negative; PLM_OK = 0). */
export const Status = Object.freeze({
  OK: 0,
  INVALID: -1,
  FORMAT: -2,
  TRUNCATED: -3,
  UNSUPPORTED: -4,
  NOMEM: -5,
  TOO_LONG: -6,
  MISSING: -7,
  STATE: -8,
});

// plm_loader_commit states
export const LOAD_NEED_MORE = 1;
export const LOAD_HEADER_READY = 2;
export const LOAD_DONE = 3;
// load flags (plm_loader_set_flags, plm_loader_finish)
export const LOAD_VOCAB_ONLY = 1;

// flags of plm_token_bytes / plm_detokenize
export const DECODE_SKIP_SPECIAL = 1;
export const DECODE_STRIP_LEADING = 2;

// bert.pooling_type (plm_bert_info's pooling)
export const POOL_NONE = 0;
export const POOL_MEAN = 1;
export const POOL_CLS = 2;
export const POOL_LAST = 3;
export const POOL_RANK = 4;

// early_stopping of plm_t5_beam_begin
export const EARLY_STOPPING_FALSE = 0;
export const EARLY_STOPPING_TRUE = 1;
export const EARLY_STOPPING_NEVER = 2;

// flags of plm_matcher_new (grammar-constrained generation)
export const MATCHER_STRIP_LEADING = 1;
