// plm-wasm tokenize <model.gguf> "text": token ids (and pieces) of a text.
import { Tokenizer } from '../node.js';

export const summary = 'show the token ids of a text';
export const usage = '<model.gguf> "text" [options]';
export const positionals = 2;
export const options = {
  'no-special': { type: 'boolean', help: 'do not add the model\'s special tokens (BOS, [CLS]/[SEP], </s>)' },
  'no-parse-special': { type: 'boolean', help: 'keep special-token text such as <|endoftext|> as ordinary text (default: it is the special token)' },
  json: { type: 'boolean', help: 'print a JSON array of ids only' },
};

export async function run({ positionals: [model, text], values: v }) {
  const tok = await Tokenizer.load(model);
  try {
    const ids = tok.encode(text, { addSpecial: !v['no-special'], parseSpecial: !v['no-parse-special'] });
    if (v.json) {
      console.log(JSON.stringify(Array.from(ids)));
      return 0;
    }
    const dec = new TextDecoder();
    for (const id of ids) {
      const piece = dec.decode(tok.tokenBytes(id));
      console.log(`${String(id).padStart(7)}  ${JSON.stringify(piece)}`);
    }
    console.error(`${ids.length} tokens`);
    return 0;
  } finally {
    tok.dispose();
  }
}
