#!/usr/bin/env node
// plm-wasm command line. Each command is a module in cli/ exporting
// { summary, usage, options (util.parseArgs format), run({ positionals, values }) };
// add a command by adding a line to COMMANDS.

import { parseArgs } from 'node:util';
import './cli/relaxed.js'; // the relaxed-SIMD build on Node 20 too

const COMMANDS = {
  generate: () => import('./cli/generate.js'),
  chat: () => import('./cli/chat.js'),
  tokenize: () => import('./cli/tokenize.js'),
  embed: () => import('./cli/embed.js'),
  similarity: () => import('./cli/similarity.js'),
  'fill-mask': () => import('./cli/fill-mask.js'),
  classify: () => import('./cli/classify.js'),
  t5: () => import('./cli/t5.js'),
  info: () => import('./cli/info.js'),
  convert: () => import('./cli/convert.js'),
  quantize: () => import('./cli/quantize.js'),
  inspect: () => import('./cli/inspect.js'),
};

const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
};

async function mainHelp() {
  const lines = ['usage: plm-wasm <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const mod = await load();
    lines.push(`  ${name.padEnd(10)} ${mod.summary}`);
  }
  lines.push('', 'plm-wasm <command> --help shows the options of a command.');
  return lines.join('\n');
}

function commandHelp(name, mod) {
  const lines = [`usage: plm-wasm ${name} ${mod.usage}`, '', mod.summary, '', 'options:'];
  for (const [opt, spec] of Object.entries({ ...mod.options, ...COMMON_OPTIONS })) {
    const flag = `--${opt}${spec.short ? `, -${spec.short}` : ''}${spec.type === 'string' ? ` <${spec.arg ?? 'value'}>` : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${spec.help ?? (opt === 'help' ? 'show this help' : '')}`);
  }
  return lines.join('\n');
}

async function main(argv) {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await mainHelp());
    return 0;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../package.json').version);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`plm-wasm: unknown command '${name}'\n\n${await mainHelp()}`);
    return 2;
  }
  const mod = await load();
  const options = {};
  for (const [k, v] of Object.entries({ ...mod.options, ...COMMON_OPTIONS })) {
    const { help, arg, parse, ...spec } = v;
    options[k] = spec;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    console.error(`plm-wasm ${name}: ${e.message}\n\n${commandHelp(name, mod)}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(commandHelp(name, mod));
    return 0;
  }
  // typed options: spec.parse converts and validates the string
  for (const [k, v] of Object.entries(mod.options)) {
    if (v.parse && parsed.values[k] !== undefined) {
      try {
        parsed.values[k] = Array.isArray(parsed.values[k]) ? parsed.values[k].map((x) => v.parse(x, k)) : v.parse(parsed.values[k], k);
      } catch (e) {
        console.error(`plm-wasm ${name}: ${e.message}`);
        return 2;
      }
    }
  }
  if (mod.positionals && parsed.positionals.length !== mod.positionals) {
    console.error(`plm-wasm ${name}: expected ${mod.positionals} arguments, got ${parsed.positionals.length}\n\n${commandHelp(name, mod)}`);
    return 2;
  }
  return (await mod.run(parsed)) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`plm-wasm: ${e?.message ?? e}`);
    process.exitCode = 1;
  },
);
