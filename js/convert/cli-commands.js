// The convert / quantize / inspect commands of the plm-wasm CLI, in js/cli.js's
// command-module format: { summary, usage, positionals, options, run({positionals, values}) }.
// js/cli.js registers them; `node js/convert/cli-commands.js <command> ...` runs
// them stand-alone.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { convert } from './convert.js';
import { quantize } from './quantize.js';
import { inspectGGUF, formatInspection } from './inspect.js';

function positiveInt(s, name) {
  const v = Number(s);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} expects a positive integer, got '${s}'`);
  return v;
}

function oneOf(values) {
  return (s, name) => {
    const v = String(s).toUpperCase();
    if (!values.includes(v)) throw new Error(`--${name} expects one of ${values.join(', ')}, got '${s}'`);
    return v;
  };
}

function progress(quiet) {
  if (quiet || !process.stderr.isTTY) return undefined;
  return ({ index, total, name, type }) => {
    process.stderr.write(`\r[${String(index + 1).padStart(String(total).length)}/${total}] ${name} -> ${type}`.padEnd(79).slice(0, 79));
    if (index + 1 === total) process.stderr.write('\n');
  };
}

export const convertCommand = {
  summary: 'convert a Hugging Face folder (config.json, *.safetensors, tokenizer) to GGUF',
  usage: '<hf-folder> -o <model.gguf> [options]',
  positionals: 1,
  options: {
    output: { type: 'string', short: 'o', arg: 'file', help: 'output GGUF file (required)' },
    type: { type: 'string', short: 't', arg: 'type', parse: oneOf(['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0']), help: 'F32, F16 (default), BF16, Q8_0 or Q4_0' },
    name: { type: 'string', arg: 'name', help: 'general.name (default: the folder name)' },
    'no-heads': { type: 'boolean', help: "BERT: leave out the pooler / masked-LM / classifier heads (= llama.cpp's converter)" },
    'tokenizer-pre': { type: 'string', arg: 'name', help: 'llama.cpp pre-tokenizer name for unrecognised BPE tokenizers' },
    quiet: { type: 'boolean', short: 'q', help: 'no progress output' },
  },
  async run({ positionals: [dir], values: v }) {
    if (!v.output) throw new Error('convert: the output file is required (-o model.gguf)');
    const res = await convert(dir, v.output, {
      type: v.type ?? 'F16',
      name: v.name,
      heads: v['no-heads'] ? 'none' : 'all',
      tokenizerPre: v['tokenizer-pre'],
      onProgress: progress(v.quiet),
    });
    for (const w of res.warnings) console.error(`warning: ${w}`);
    if (!v.quiet) console.error(`${res.path}: ${res.arch}, ${res.type}, ${res.tensors.length} tensors, ${res.nParams.toLocaleString('en-US')} parameters, ${res.bytes.toLocaleString('en-US')} bytes`);
    return 0;
  },
};

export const quantizeCommand = {
  summary: 'quantize a GGUF file (F32/F16 -> Q8_0 or Q4_0) with llama.cpp-compatible per-tensor types',
  usage: '<in.gguf> <out.gguf> --type Q8_0|Q4_0 [options]',
  positionals: 2,
  options: {
    type: { type: 'string', short: 't', arg: 'type', parse: oneOf(['Q8_0', 'Q4_0', 'F16', 'BF16', 'F32']), help: 'Q8_0 or Q4_0 (also F16, BF16, F32)' },
    'allow-requantize': { type: 'boolean', help: 're-quantize tensors that are already quantized' },
    quiet: { type: 'boolean', short: 'q', help: 'no progress output' },
  },
  async run({ positionals: [input, output], values: v }) {
    if (!v.type) throw new Error('quantize: --type is required (Q8_0 or Q4_0)');
    const res = await quantize(input, output, { type: v.type, allowRequantize: !!v['allow-requantize'], onProgress: progress(v.quiet) });
    if (!v.quiet) console.error(`${output}: ${res.type}, ${res.tensors.length} tensors, ${res.bytes.toLocaleString('en-US')} bytes`);
    return 0;
  },
};

export const inspectCommand = {
  summary: 'print a GGUF file: metadata, tensors, parameter count, memory estimate',
  usage: '<model.gguf> [options]',
  positionals: 1,
  options: {
    ctx: { type: 'string', short: 'c', arg: 'n', parse: positiveInt, help: 'context length for the memory estimate (default: the model\'s)' },
    'max-elems': { type: 'string', arg: 'n', parse: positiveInt, help: 'array elements shown per key (default 8)' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run({ positionals: [file], values: v }) {
    const info = inspectGGUF(file, { nCtx: v.ctx, maxElems: v['max-elems'] ?? 8 });
    console.log(v.json ? JSON.stringify(info, null, 2) : formatInspection(info));
    return 0;
  },
};

export const commands = { convert: convertCommand, quantize: quantizeCommand, inspect: inspectCommand };

/** Stand-alone runner (until js/cli.js registers the commands). */
async function main(argv) {
  const [name, ...rest] = argv;
  const cmd = commands[name];
  if (!cmd) {
    console.error(`usage: node ${path.basename(fileURLToPath(import.meta.url))} <${Object.keys(commands).join('|')}> ...`);
    return 2;
  }
  const options = {};
  for (const [k, { help, arg, parse, ...spec }] of Object.entries(cmd.options)) options[k] = spec;
  options.help = { type: 'boolean', short: 'h' };
  const parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  if (parsed.values.help) {
    console.log(`usage: plm-wasm ${name} ${cmd.usage}\n\n${cmd.summary}\n\noptions:`);
    for (const [k, o] of Object.entries(cmd.options)) console.log(`  --${k}${o.short ? `, -${o.short}` : ''}${o.arg ? ` <${o.arg}>` : ''}  ${o.help ?? ''}`);
    return 0;
  }
  for (const [k, o] of Object.entries(cmd.options)) if (o.parse && parsed.values[k] !== undefined) parsed.values[k] = o.parse(parsed.values[k], k);
  if (parsed.positionals.length !== cmd.positionals) throw new Error(`${name}: expected ${cmd.positionals} argument(s), got ${parsed.positionals.length}`);
  return cmd.run(parsed);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code ?? 0; },
    (e) => {
      console.error(`plm-wasm: ${e?.message ?? e}`);
      process.exitCode = 1;
    },
  );
}
