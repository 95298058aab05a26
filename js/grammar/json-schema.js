// json-schema.js — JSON Schema -> GBNF, for responseFormat: { type: 'json_schema', schema }.
//
// Covers what llama.cpp's json-schema-to-grammar covers, with its generation
// conventions (so the same schema constrains the same way):
//   - objects: properties in their declared order, required ones always, optional
//     ones may be left out; additionalProperties false by default when properties
//     are given (true / a schema: more keys, never one of the declared names);
//     {} is any object and a schema of annotations only is any value (as llama.cpp);
//     allOf: the components' properties are required, an anyOf's inside optional, enums intersect;
//   - enum / const (any JSON values), type (and type arrays), nullable through type;
//   - strings: minLength / maxLength, pattern (a regex subset: literals, escapes,
//     \d \w \s and negations, classes, groups, |, * + ? {m,n}, ., ^ $ anchors),
//     format date / time / date-time / uuid;
//   - integers with minimum / maximum / exclusiveMinimum / exclusiveMaximum
//     (decimal range rules, at most 16 digits as llama.cpp); numbers (bounds on
//     non-integers are not enforced: llama.cpp's behaviour, listed in `relaxed`);
//   - arrays: items, prefixItems (and the old tuple form items: [...]), minItems, maxItems;
//   - anyOf / oneOf (alternatives), allOf (object schemas merged), $ref to #, #/$defs/...,
//     #/definitions/... (recursive schemas become recursive rules).
// Annotations (title, description, $schema, $id, $comment, examples, default, ...)
// are ignored. uniqueItems and non-integer number bounds are accepted but not
// enforced (as in llama.cpp) and reported in `relaxed`. Any other keyword is an
// error naming it.
//
//   const { grammar, relaxed } = jsonSchemaToGrammar(schema);

const SPACE_RULE = '| " " | "\\n" [ \\t]{0,20}';

const PRIMITIVES = {
  boolean: ['("true" | "false") space', []],
  'decimal-part': ['[0-9]{1,16}', []],
  'integral-part': ['[0] | [1-9] [0-9]{0,15}', []],
  number: ['("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space', ['integral-part', 'decimal-part']],
  integer: ['("-"? integral-part) space', ['integral-part']],
  value: ['object | array | string | number | boolean | null', ['object', 'array', 'string', 'number', 'boolean', 'null']],
  object: ['"{" space ( string ":" space value ("," space string ":" space value)* )? "}" space', ['string', 'value']],
  array: ['"[" space ( value ("," space value)* )? "]" space', ['value']],
  uuid: ['"\\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\\"" space', []],
  char: ['[^"\\\\\\x7F\\x00-\\x1F] | [\\\\] (["\\\\bfnrt] | "u" [0-9a-fA-F]{4})', []],
  string: ['"\\"" char* "\\"" space', ['char']],
  null: ['"null" space', []],
};

const FORMATS = {
  date: ['[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )', []],
  time: ['([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )', []],
  'date-time': ['date "T" time', ['date', 'time']],
};

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly', '$anchor', 'contentMediaType', 'contentEncoding', '$defs', 'definitions']);
const KNOWN = new Set([
  ...ANNOTATIONS, 'type', 'properties', 'required', 'additionalProperties', 'enum', 'const', 'items', 'prefixItems', 'minItems', 'maxItems',
  'minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'anyOf', 'oneOf', 'allOf', '$ref',
  'uniqueItems', 'nullable',
]);

export class SchemaError extends TypeError {
  constructor(message, path) {
    super(path ? `JSON Schema at ${path}: ${message}` : `JSON Schema: ${message}`);
    this.name = 'SchemaError';
    this.path = path;
  }
}

/** A GBNF literal for a JS string. */
export function gbnfLiteral(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** A code point inside a GBNF character class. */
function classChar(c) {
  const ch = String.fromCodePoint(c);
  if (ch === ']' || ch === '[' || ch === '\\') return '\\' + ch;
  if (ch === '^' || ch === '-') return '\\x' + c.toString(16); // (llama.cpp's GBNF has no \^ \-)
  if (ch === '"') return '"';
  if (c < 0x20 || c === 0x7f) return '\\x' + c.toString(16).padStart(2, '0');
  if (c > 0xffff) return '\\U' + c.toString(16).padStart(8, '0');
  return ch;
}

// ------------------------------------------------------------- integer ranges
const MAX_DIGITS = 16;
const TEN = 10n;
const LIMIT = TEN ** BigInt(MAX_DIGITS) - 1n; // largest magnitude (16 digits)

/** GBNF for the decimal strings (no leading zeros) of the integers in [lo, hi], 0 <= lo <= hi. */
function uintRange(lo, hi) {
  const alts = [];
  const dl = String(lo).length, dh = String(hi).length;
  for (let d = dl; d <= dh; d++) {
    const a = d === dl ? lo : TEN ** BigInt(d - 1);
    const b = d === dh ? hi : TEN ** BigInt(d) - 1n;
    if (a > b) continue;
    alts.push(...sameLength(String(a), String(b)));
  }
  return alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`;
}

/** Alternatives for the digit strings between a and b (same length, a <= b). */
function sameLength(a, b) {
  const n = a.length;
  if (n === 0) return [''];
  if (a === b) return [`"${a}"`];
  const rest = n - 1;
  const tail = rest ? ` [0-9]${rest > 1 ? `{${rest}}` : ''}` : '';
  if (/^0*$/.test(a.slice(1)) && /^9*$/.test(b.slice(1))) return [`${digitClass(+a[0], +b[0])}${tail}`];
  if (a[0] === b[0]) return sameLength(a.slice(1), b.slice(1)).map((s) => `"${a[0]}" ${s ? `(${s})` : ''}`.trim());
  const out = [];
  const lowAlts = sameLength(a.slice(1), '9'.repeat(rest));
  out.push(`"${a[0]}" ${group(lowAlts)}`);
  if (+a[0] + 1 <= +b[0] - 1) out.push(`${digitClass(+a[0] + 1, +b[0] - 1)}${tail}`);
  const highAlts = sameLength('0'.repeat(rest), b.slice(1));
  out.push(`"${b[0]}" ${group(highAlts)}`);
  return out;
}

const group = (alts) => (alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`);
const digitClass = (x, y) => (x === y ? `[${x}]` : `[${x}-${y}]`);

function toBig(v, name, path) {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SchemaError(`${name} must be a finite number`, path);
  return BigInt(Math.ceil(v)) === BigInt(Math.floor(v)) ? BigInt(v) : null;
}

/** GBNF (without trailing space) for the integers in [min, max] (null = unbounded). */
export function integerRange(min, max) {
  const lo = min ?? -LIMIT, hi = max ?? LIMIT;
  const alts = [];
  if (lo > hi) return null;
  if (lo < 0n) {
    // "-0" (= 0) is accepted when a lower bound was given, as llama.cpp does
    const mLo = hi < 0n ? -hi : min === null ? 1n : 0n, mHi = -lo > LIMIT ? LIMIT : -lo;
    if (mLo <= mHi) alts.push(`"-" ${uintRange(mLo, mHi)}`);
  }
  if (hi >= 0n) {
    const a = lo > 0n ? lo : 0n, b = hi > LIMIT ? LIMIT : hi;
    if (a <= b) alts.push(uintRange(a, b));
  }
  if (!alts.length) return null;
  return alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`;
}

// ------------------------------------------------------------- regex subset
/** GBNF for the JSON-escaped text of the strings a pattern matches (no quotes). */
function patternToGbnf(pattern, conv, path) {
  let i = 0;
  const src = [...pattern];
  const fail = (msg) => {
    throw new SchemaError(`pattern ${JSON.stringify(pattern)}: ${msg} (at ${i})`, path);
  };
  const anyChar = 'char';
  // a JSON string character set from code point ranges (negate: complement)
  const charSet = (ranges, negate) => {
    let r = ranges.map(([a, b]) => [a, b]).sort((x, y) => x[0] - y[0]);
    const merged = [];
    for (const [a, b] of r) {
      if (merged.length && a <= merged[merged.length - 1][1] + 1) merged[merged.length - 1][1] = Math.max(merged[merged.length - 1][1], b);
      else merged.push([a, b]);
    }
    if (negate) {
      const comp = [];
      let cur = 0;
      for (const [a, b] of merged) {
        if (a > cur) comp.push([cur, a - 1]);
        cur = Math.max(cur, b + 1);
      }
      if (cur <= 0x10ffff) comp.push([cur, 0x10ffff]);
      r = comp;
    } else r = merged;
    // split off what JSON must escape: control chars, '"' and '\'
    const plain = [], escaped = [];
    for (const [a, b] of r) {
      let s = a;
      for (const special of [0x22, 0x5c]) {
        if (special >= s && special <= b) {
          if (special > s) plain.push([s, special - 1]);
          escaped.push(special === 0x22 ? '"\\\\\\""' : '"\\\\\\\\"');
          s = special + 1;
        }
      }
      if (s <= b) plain.push([s, b]);
    }
    const parts = [];
    const visible = [];
    for (const [a, b] of plain) {
      const lo = Math.max(a, 0x20);
      if (lo <= b) {
        if (lo <= 0x7f && b >= 0x7f) {
          if (lo < 0x7f) visible.push([lo, 0x7e]);
          if (b > 0x7f) visible.push([0x80, b]);
          escaped.push('"\\\\u007f"');
        } else visible.push([lo, b]);
      }
      for (let c = a; c <= Math.min(b, 0x1f); c++) escaped.push(`"\\\\u00${c.toString(16).padStart(2, '0')}"`);
    }
    if (visible.length) parts.push('[' + visible.map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`)).join('') + ']');
    parts.push(...escaped);
    if (!parts.length) fail('a character class that matches nothing');
    return parts.length === 1 ? parts[0] : `(${parts.join(' | ')})`;
  };
  const CLASS_ESC = {
    d: [[0x30, 0x39]],
    w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
    s: [[0x09, 0x0d], [0x20, 0x20]],
  };
  const escapeChar = (c) => ({ n: 10, r: 13, t: 9, f: 12, v: 11, 0: 0 })[c];
  const parseEscapeInClass = () => {
    // at src[i] after '\'
    const c = src[i++];
    if (c === undefined) fail('trailing backslash');
    if (CLASS_ESC[c.toLowerCase()]) return { cls: c };
    if (escapeChar(c) !== undefined) return { cp: escapeChar(c) };
    if (c === 'u' || c === 'x') {
      const n = c === 'u' ? 4 : 2;
      const hex = src.slice(i, i + n).join('');
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) fail(`bad \\${c} escape`);
      i += n;
      return { cp: parseInt(hex, 16) };
    }
    if (/[a-zA-Z0-9]/.test(c)) fail(`unsupported escape \\${c}`);
    return { cp: c.codePointAt(0) };
  };
  const classRanges = (cls) => {
    const base = CLASS_ESC[cls.toLowerCase()];
    if (cls === cls.toLowerCase()) return base;
    // negated shorthand inside a class: complement of base
    const comp = [];
    let cur = 0;
    for (const [a, b] of base) {
      if (a > cur) comp.push([cur, a - 1]);
      cur = b + 1;
    }
    comp.push([cur, 0x10ffff]);
    return comp;
  };
  const parseAtom = () => {
    const c = src[i];
    if (c === '(') {
      i++;
      if (src[i] === '?') {
        if (src[i + 1] === ':') i += 2;
        else fail('only (?:...) groups are supported');
      }
      const inner = parseAlt();
      if (src[i] !== ')') fail("expecting ')'");
      i++;
      return `(${inner})`;
    }
    if (c === '[') {
      i++;
      let negate = false;
      if (src[i] === '^') (negate = true), i++;
      const ranges = [];
      let first = true;
      while (i < src.length && (src[i] !== ']' || first)) {
        first = false;
        let lo;
        if (src[i] === '\\') {
          i++;
          const e = parseEscapeInClass();
          if (e.cls) {
            ranges.push(...classRanges(e.cls));
            continue;
          }
          lo = e.cp;
        } else lo = src[i++].codePointAt(0);
        if (src[i] === '-' && src[i + 1] !== undefined && src[i + 1] !== ']') {
          i++;
          let hi;
          if (src[i] === '\\') {
            i++;
            const e = parseEscapeInClass();
            if (e.cls) fail('a class escape cannot end a range');
            hi = e.cp;
          } else hi = src[i++].codePointAt(0);
          if (hi < lo) fail('range out of order');
          ranges.push([lo, hi]);
        } else ranges.push([lo, lo]);
      }
      if (src[i] !== ']') fail("expecting ']'");
      i++;
      return charSet(ranges, negate);
    }
    if (c === '.') {
      i++;
      return charSet([[0x0a, 0x0a], [0x0d, 0x0d]], true); // any character but line breaks
    }
    if (c === '\\') {
      i++;
      const e = parseEscapeInClass();
      if (e.cls) return charSet(classRanges(e.cls), false);
      return charSet([[e.cp, e.cp]], false);
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') fail(`nothing to repeat before '${c}'`);
    if (c === '^' || c === '$') fail(`'${c}' is only supported at the start / end of the pattern`);
    i++;
    return charSet([[c.codePointAt(0), c.codePointAt(0)]], false);
  };
  const parseSeq = () => {
    const items = [];
    while (i < src.length && src[i] !== '|' && src[i] !== ')') {
      if (src[i] === '$' && i === src.length - 1) break; // end anchor
      let atom = parseAtom();
      for (;;) {
        const q = src[i];
        let suffix = null;
        if (q === '*' || q === '+' || q === '?') (suffix = q), i++;
        else if (q === '{') {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i).join(''));
          if (!m) fail("bad '{' quantifier");
          i += m[0].length;
          suffix = m[2] === undefined ? `{${m[1]}}` : `{${m[1]},${m[3]}}`;
        } else break;
        if (src[i] === '?') i++; // lazy: same language
        atom = `(${atom})${suffix}`;
      }
      items.push(atom);
    }
    return items.length ? items.join(' ') : '""';
  };
  const parseAlt = () => {
    const alts = [parseSeq()];
    while (src[i] === '|') {
      i++;
      alts.push(parseSeq());
    }
    return alts.length === 1 ? alts[0] : alts.map((a) => `(${a})`).join(' | ');
  };
  let anchoredStart = false;
  if (src[0] === '^') (anchoredStart = true), i++;
  const body = parseAlt();
  const anchoredEnd = i === src.length - 1 && src[i] === '$';
  if (i < src.length && !anchoredEnd) fail(`unexpected '${src[i]}'`);
  conv.need('char');
  // unanchored patterns match anywhere in the string (JSON Schema semantics)
  return `${anchoredStart ? '' : `${anyChar}* `}(${body})${anchoredEnd ? '' : ` ${anyChar}*`}`;
}

// ------------------------------------------------------------- converter
class Converter {
  rules = new Map(); // name -> body
  relaxed = [];
  #root;
  #refs = new Map(); // ref -> rule name

  constructor(root) {
    this.#root = root;
    this.rules.set('space', SPACE_RULE);
  }

  need(name) {
    if (this.rules.has(name)) return name;
    const def = PRIMITIVES[name] ?? FORMATS[name];
    if (!def) throw new Error(`internal: no primitive ${name}`);
    this.rules.set(name, def[0]);
    for (const d of def[1]) this.need(d);
    return name;
  }

  add(name, body) {
    let key = name.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'r';
    if (this.rules.has(key) && this.rules.get(key) !== body) {
      let k = 1;
      while (this.rules.has(`${key}-${k}`) && this.rules.get(`${key}-${k}`) !== body) k++;
      key = `${key}-${k}`;
    }
    this.rules.set(key, body);
    return key;
  }

  resolveRef(ref, path) {
    if (typeof ref !== 'string') throw new SchemaError('$ref must be a string', path);
    if (ref !== '#' && !ref.startsWith('#/')) throw new SchemaError(`$ref ${JSON.stringify(ref)}: only local references (#/...) are supported`, path);
    let target = this.#root;
    if (ref !== '#')
      for (const raw of ref.slice(2).split('/')) {
        const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        if (target === null || typeof target !== 'object' || !(key in target)) throw new SchemaError(`$ref ${JSON.stringify(ref)} does not resolve`, path);
        target = target[key];
      }
    return target;
  }

  /** Rule name for a $ref (converted once; recursion allowed). */
  refRule(ref, path) {
    if (this.#refs.has(ref)) return this.#refs.get(ref);
    const target = this.resolveRef(ref, path);
    const name = this.add(`ref${ref === '#' ? '-root' : ref.slice(1).replace(/\//g, '-')}`, '""'); // placeholder
    this.#refs.set(ref, name);
    this.rules.set(name, this.visit(target, `${name}-`, ref));
    return name;
  }

  checkKeywords(schema, path) {
    for (const k of Object.keys(schema)) {
      if (!KNOWN.has(k)) throw new SchemaError(`unsupported keyword "${k}"`, path);
    }
  }

  /** GBNF expression for a value matching schema (named rules added as needed). */
  visit(schema, name, path) {
    if (schema === true) return this.need('value');
    if (schema === false) throw new SchemaError('the schema false matches nothing', path);
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new SchemaError('a schema must be an object or a boolean', path);
    this.checkKeywords(schema, path);
    const s = schema;
    if (s.$ref !== undefined) return this.refRule(s.$ref, path);
    // (llama.cpp: {} generates an object; a schema with only annotations, any value)
    if (Object.keys(s).length > 0 && Object.keys(s).every((k) => ANNOTATIONS.has(k))) return this.need('value');
    if (s.oneOf !== undefined || s.anyOf !== undefined) {
      const list = s.oneOf ?? s.anyOf;
      if (!Array.isArray(list) || !list.length) throw new SchemaError(`${s.oneOf ? 'oneOf' : 'anyOf'} must be a non-empty array`, path);
      const { oneOf, anyOf, ...rest } = s;
      const restHasType = Object.keys(rest).some((k) => !ANNOTATIONS.has(k));
      return list.map((alt, k) => this.add(`${name}${k}`, this.visit(restHasType && alt && typeof alt === 'object' ? { ...rest, ...alt } : alt, `${name}${k}-`, `${path}/${oneOf ? 'oneOf' : 'anyOf'}/${k}`))).join(' | ');
    }
    if (s.allOf !== undefined) return this.visit(this.mergeAllOf(s, path), name, path);
    if (s.const !== undefined) return `${this.jsonLiteral(s.const)} space`;
    if (s.enum !== undefined) {
      if (!Array.isArray(s.enum) || !s.enum.length) throw new SchemaError('enum must be a non-empty array', path);
      return `(${s.enum.map((v) => this.jsonLiteral(v)).join(' | ')}) space`;
    }
    let type = s.type;
    if (s.nullable === true && type !== undefined) type = [].concat(type, 'null');
    if (Array.isArray(type)) {
      if (!type.length) throw new SchemaError('type must not be an empty array', path);
      return type.map((t) => this.add(`${name}${t}`, this.visit({ ...s, type: t, nullable: undefined }, `${name}${t}-`, path))).join(' | ');
    }
    if (type === undefined) {
      if (s.properties !== undefined || s.additionalProperties !== undefined || s.required !== undefined) type = 'object';
      else if (s.items !== undefined || s.prefixItems !== undefined || s.minItems !== undefined || s.maxItems !== undefined) type = 'array';
      else if (s.minLength !== undefined || s.maxLength !== undefined || s.pattern !== undefined || s.format !== undefined) type = 'string';
      else if (s.minimum !== undefined || s.maximum !== undefined || s.exclusiveMinimum !== undefined || s.exclusiveMaximum !== undefined) type = 'number';
      else type = 'object'; // as llama.cpp: {} generates an object
    }
    switch (type) {
      case 'object':
        return this.objectRule(s, name, path);
      case 'array':
        return this.arrayRule(s, name, path);
      case 'string':
        return this.stringRule(s, name, path);
      case 'integer':
        return this.integerRule(s, path);
      case 'number':
        if (s.minimum !== undefined || s.maximum !== undefined || s.exclusiveMinimum !== undefined || s.exclusiveMaximum !== undefined)
          this.relaxed.push(`${path}: bounds of a non-integer number are not enforced`);
        return this.need('number');
      case 'boolean':
        return this.need('boolean');
      case 'null':
        return this.need('null');
      default:
        throw new SchemaError(`unsupported type ${JSON.stringify(type)}`, path);
    }
  }

  jsonLiteral(v) {
    return gbnfLiteral(JSON.stringify(v));
  }

  /**
   * allOf as llama.cpp combines it: the properties of each component are required
   * (those of an anyOf / oneOf inside a component are optional), enums intersect,
   * other keywords must agree.
   */
  mergeAllOf(s, path) {
    if (!Array.isArray(s.allOf) || !s.allOf.length) throw new SchemaError('allOf must be a non-empty array', path);
    const { allOf, ...out } = s;
    const props = { ...(out.properties ?? {}) };
    const required = new Set(out.required ?? []);
    let sawObject = out.properties !== undefined;
    const resolve = (part, at) => {
      if (part && typeof part === 'object' && part.$ref !== undefined) part = this.resolveRef(part.$ref, at);
      if (!part || typeof part !== 'object' || Array.isArray(part)) throw new SchemaError('allOf items must be schemas', at);
      this.checkKeywords(part, at);
      return part.allOf ? this.mergeAllOf(part, at) : part;
    };
    for (let k = 0; k < allOf.length; k++) {
      const at = `${path}/allOf/${k}`;
      const part = resolve(allOf[k], at);
      for (const [key, v] of Object.entries(part)) {
        if (key === 'properties') {
          Object.assign(props, v);
          for (const name of Object.keys(v)) required.add(name);
          sawObject = true;
        } else if (key === 'anyOf' || key === 'oneOf') {
          v.forEach((alt, j) => {
            const a = resolve(alt, `${at}/${key}/${j}`);
            if (a.properties) {
              for (const [name, ps] of Object.entries(a.properties)) if (!(name in props)) props[name] = ps;
              sawObject = true;
            } else if (out[key] === undefined) out[key] = v;
          });
        } else if (key === 'required') for (const r of v) required.add(r);
        else if (ANNOTATIONS.has(key)) continue;
        else if (key === 'enum' && out.enum !== undefined) {
          const keep = new Set(v.map((x) => JSON.stringify(x)));
          out.enum = out.enum.filter((x) => keep.has(JSON.stringify(x)));
          if (!out.enum.length) throw new SchemaError('allOf: the enums have no value in common', at);
        } else if (key === 'type' && (v === 'object' || out.type === undefined || out.type === v)) out.type = v;
        else if (out[key] === undefined) out[key] = v;
        else if (JSON.stringify(out[key]) !== JSON.stringify(v)) throw new SchemaError(`allOf: cannot combine two different "${key}"`, at);
      }
    }
    if (sawObject) {
      out.properties = props;
      out.required = [...required];
      out.type ??= 'object';
    }
    return out;
  }

  objectRule(s, name, path) {
    if (s.properties === undefined && (s.additionalProperties === undefined || s.additionalProperties === true) && s.required === undefined)
      return this.need('object');
    const props = s.properties ?? {};
    if (typeof props !== 'object' || Array.isArray(props)) throw new SchemaError('properties must be an object', path);
    const required = new Set(s.required ?? []);
    if (!Array.isArray(s.required ?? [])) throw new SchemaError('required must be an array', path);
    for (const r of required) if (!(r in props) && s.additionalProperties === false) throw new SchemaError(`required property "${r}" is not in properties`, path);
    this.need('string');
    const kv = (key) => {
      const rule = this.add(`${name}${key}-kv`, `${gbnfLiteral(JSON.stringify(key))} space ":" space ${this.add(`${name}${key}`, this.visit(props[key], `${name}${key}-`, `${path}/properties/${key}`))}`);
      return rule;
    };
    const names = Object.keys(props);
    const req = names.filter((k) => required.has(k));
    const opt = names.filter((k) => !required.has(k));
    // required keys that are only allowed through additionalProperties: not supported
    for (const r of required) if (!(r in props)) throw new SchemaError(`required property "${r}" has no schema in properties`, path);
    let additional = null;
    const ap = s.additionalProperties;
    if (ap !== undefined && ap !== false) {
      const valueRule = ap === true || (typeof ap === 'object' && Object.keys(ap).length === 0) ? this.need('value') : this.add(`${name}additional-value`, this.visit(ap, `${name}additional-`, `${path}/additionalProperties`));
      const keyRule = names.length ? this.notStrings(names, `${name}additional-k`) : 'string';
      additional = this.add(`${name}additional-kv`, `${keyRule} ":" space ${valueRule}`);
    }
    const reqRules = req.map(kv);
    const optRules = opt.map(kv);
    if (additional) optRules.push(`${additional}`); // the last optional item repeats
    // optional items in order, any subset: rest_k ::= ("," space item_j rest_{j+1} | ...)? for j >= k
    const n = optRules.length;
    const item = (j) => (additional && j === n - 1 ? `${optRules[j]} ("," space ${optRules[j]})*` : optRules[j]);
    const restName = [];
    const optChain = (i, first) => {
      const sep = first ? '' : '"," space ';
      const alts = [];
      for (let j = i; j < n; j++) alts.push(`${sep}${item(j)}${j + 1 < n ? ` ${restName[j + 1]}` : ''}`);
      return alts.join(' | ');
    };
    for (let k = n - 1; k >= 1; k--) restName[k] = this.add(`${name}rest-${k}`, `(${optChain(k, false)})?`);
    let body = '"{" space ';
    if (reqRules.length) {
      body += reqRules.join(' "," space ');
      if (optRules.length) body += ` (${optChain(0, false)})?`;
    } else if (optRules.length) body += `(${optChain(0, true)})?`;
    body += ' "}" space';
    return body;
  }

  /** A JSON string rule (with space) for any key except the given names. */
  notStrings(words, name) {
    const trie = { children: new Map(), end: false };
    for (const w of words) {
      let n = trie;
      for (const ch of JSON.stringify(w).slice(1, -1)) {
        if (!n.children.has(ch)) n.children.set(ch, { children: new Map(), end: false });
        n = n.children.get(ch);
      }
      n.end = true;
    }
    this.need('char');
    const rest = this.add(`${name}-rest`, 'char* "\\"" space');
    let k = 0;
    const node = (n) => {
      const alts = [];
      const chars = [...n.children.keys()];
      // a character that leaves the trie
      const excl = chars.map((c) => classChar(c.codePointAt(0))).join('');
      alts.push(`([^"\\\\\\x7F\\x00-\\x1F${excl}] | [\\\\] (["\\\\bfnrt] | "u" [0-9a-fA-F]{4})) ${rest}`);
      for (const c of chars) alts.push(`${gbnfLiteral(c)} ${node(n.children.get(c))}`);
      if (!n.end) alts.push('"\\"" space');
      return this.add(`${name}-${k++}`, alts.join(' | '));
    };
    // leading quote, then the trie (a key equal to a word is never closed)
    return this.add(name, `"\\"" ${node(trie)}`);
  }

  arrayRule(s, name, path) {
    if (s.prefixItems && typeof s.prefixItems === 'object' && !Array.isArray(s.prefixItems) && s.items === undefined) {
      const { prefixItems, ...rest } = s; // (llama.cpp: a single schema in prefixItems is items)
      return this.arrayRule({ ...rest, items: prefixItems }, name, path);
    }
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : null;
    if (s.uniqueItems === true) this.relaxed.push(`${path}: uniqueItems is not enforced`);
    if (prefix) {
      if (!Array.isArray(prefix)) throw new SchemaError('prefixItems must be an array', path);
      const items = prefix.map((it, k) => this.add(`${name}tuple-${k}`, this.visit(it, `${name}tuple-${k}-`, `${path}/${s.prefixItems ? 'prefixItems' : 'items'}/${k}`)));
      if (Array.isArray(s.prefixItems) && s.items !== undefined && s.items !== false)
        throw new SchemaError('items after prefixItems is not supported (only the tuple is generated)', path);
      return `"[" space ${items.join(' "," space ')} "]" space`;
    }
    const item = s.items === undefined || s.items === true ? this.need('value') : this.add(`${name}item`, this.visit(s.items, `${name}item-`, `${path}/items`));
    const min = s.minItems ?? 0, max = s.maxItems;
    for (const [k, v] of [['minItems', min], ['maxItems', max]])
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new SchemaError(`${k} must be a non-negative integer`, path);
    if (max !== undefined && max < min) throw new SchemaError('maxItems is below minItems', path);
    if (max === 0) return '"[" space "]" space';
    // item ("," space item){min-1, max-1}
    const more = min <= 1 ? (max === undefined ? '*' : `{0,${max - 1}}`) : max === undefined ? `{${min - 1},}` : `{${min - 1},${max - 1}}`;
    const list = `${item} ("," space ${item})${more}`;
    return `"[" space ${min === 0 ? `(${list})?` : list} "]" space`;
  }

  stringRule(s, name, path) {
    if (s.format !== undefined) {
      if (s.format === 'uuid') return this.need('uuid');
      if (FORMATS[s.format]) return this.add(`${s.format}-string`, `"\\"" ${this.need(s.format)} "\\"" space`);
      throw new SchemaError(`unsupported format ${JSON.stringify(s.format)} (supported: date, time, date-time, uuid)`, path);
    }
    if (s.pattern !== undefined) {
      if (typeof s.pattern !== 'string') throw new SchemaError('pattern must be a string', path);
      if (s.minLength !== undefined || s.maxLength !== undefined) throw new SchemaError('pattern together with minLength/maxLength is not supported', path);
      return `"\\"" ${this.add(`${name}pattern`, patternToGbnf(s.pattern, this, path))} "\\"" space`;
    }
    const min = s.minLength ?? 0, max = s.maxLength;
    for (const [k, v] of [['minLength', min], ['maxLength', max]])
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new SchemaError(`${k} must be a non-negative integer`, path);
    if (max !== undefined && max < min) throw new SchemaError('maxLength is below minLength', path);
    if (min === 0 && max === undefined) return this.need('string');
    this.need('char');
    const rep = max === undefined ? `{${min},}` : min === max ? `{${min}}` : `{${min},${max}}`;
    return `"\\"" char${rep} "\\"" space`;
  }

  integerRule(s, path) {
    let min = null, max = null;
    const bound = (k) => (s[k] === undefined ? null : toBig(s[k], k, path));
    const up = (v) => (v === null ? null : v);
    // non-integral bounds: round inward
    const ceil = (x) => BigInt(Math.ceil(x)), floor = (x) => BigInt(Math.floor(x));
    if (s.minimum !== undefined) min = bound('minimum') ?? ceil(s.minimum);
    if (s.exclusiveMinimum !== undefined) {
      const v = (bound('exclusiveMinimum') ?? null) !== null ? BigInt(s.exclusiveMinimum) + 1n : ceil(s.exclusiveMinimum);
      min = min === null || v > min ? v : min;
    }
    if (s.maximum !== undefined) max = bound('maximum') ?? floor(s.maximum);
    if (s.exclusiveMaximum !== undefined) {
      const v = (bound('exclusiveMaximum') ?? null) !== null ? BigInt(s.exclusiveMaximum) - 1n : floor(s.exclusiveMaximum);
      max = max === null || v < max ? v : max;
    }
    up(min);
    if (min === null && max === null) return this.need('integer');
    const r = integerRange(min, max);
    if (r === null) throw new SchemaError('no integer satisfies the bounds (within 16 digits)', path);
    return `${r} space`;
  }

  grammar(rootExpr) {
    const lines = [`root ::= ${rootExpr}`];
    for (const [k, v] of [...this.rules.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) lines.push(`${k} ::= ${v}`);
    return lines.join('\n') + '\n';
  }
}

/**
 * Convert a JSON Schema (object or JSON text) to a GBNF grammar.
 * Returns { grammar, relaxed }: relaxed lists the constraints that are accepted
 * but not enforced (uniqueItems, bounds of non-integer numbers). Throws a
 * SchemaError (a TypeError) naming the keyword and its location otherwise.
 */
export function jsonSchemaToGrammar(schema) {
  if (typeof schema === 'string') {
    try {
      schema = JSON.parse(schema);
    } catch (e) {
      throw new SchemaError(`not valid JSON: ${e.message}`);
    }
  }
  const conv = new Converter(schema);
  const root = conv.visit(schema, '', '#');
  return { grammar: conv.grammar(root), relaxed: conv.relaxed };
}

/** A grammar for any JSON object (responseFormat: { type: 'json_object' }). */
export function jsonObjectGrammar() {
  const conv = new Converter({});
  return conv.grammar(conv.need('object'));
}
