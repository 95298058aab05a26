// Progress line on stderr for the convert / quantize commands (TTY only).
export function progressLine(quiet) {
  if (quiet || !process.stderr.isTTY) return undefined;
  return ({ index, total, name, type }) => {
    const line = `[${String(index + 1).padStart(String(total).length)}/${total}] ${name} -> ${type}`;
    process.stderr.write(`\r${line.slice(0, 79).padEnd(79)}`);
    if (index + 1 === total) process.stderr.write('\n');
  };
}

/** Parser for an option that takes one of a few (case-insensitive) names. */
export function oneOf(values) {
  return (s, name) => {
    const v = String(s).toUpperCase();
    if (!values.includes(v)) throw new Error(`--${name} expects one of ${values.join(', ')}, got '${s}'`);
    return v;
  };
}
