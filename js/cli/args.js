// Option value parsers shared by the CLI commands.

export function int(min = -Infinity, max = Infinity) {
  return (s, name) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name} expects an integer in [${min}, ${max}], got '${s}'`);
    return v;
  };
}

export function num(min = -Infinity, max = Infinity) {
  return (s, name) => {
    const v = Number(s);
    if (s === '' || Number.isNaN(v) || v < min || v > max) throw new Error(`--${name} expects a number in [${min}, ${max}], got '${s}'`);
    return v;
  };
}

/** Options every model-loading command accepts. */
export const engineOptions = {
  threads: { type: 'string', arg: 'n', parse: int(1, 256), help: 'worker threads (default: all cores; 1 = single-thread build)' },
};

/** Unescape \n, \t, \\ in a command-line string (stop strings). */
export function unescape(s) {
  return s.replace(/\\(n|t|r|\\)/g, (_, c) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\' })[c]);
}
