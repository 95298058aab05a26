// schema_validate.mjs — a small JSON Schema validator for the tests (independent of the
// grammar converter): type, enum, const, properties, required, additionalProperties,
// items, prefixItems, minItems, maxItems, minLength, maxLength, pattern, minimum,
// maximum, exclusiveMinimum, exclusiveMaximum, anyOf, oneOf, allOf, $ref (#/$defs/..),
// format (date, time, date-time, uuid). Returns a list of errors (empty = valid).

const FORMATS = {
  date: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  time: /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  'date-time': /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  uuid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
};

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function validate(value, schema, root = schema, path = '$') {
  const errs = [];
  const err = (m) => errs.push(`${path}: ${m}`);
  if (schema === true || schema === undefined) return errs;
  if (schema.$ref) {
    const target = schema.$ref === '#' ? root : schema.$ref.slice(2).split('/').reduce((o, k) => o[k], root);
    return validate(value, target, root, path);
  }
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = [].concat(schema.type);
    if (!types.some((ty) => ty === t || (ty === 'number' && t === 'integer'))) err(`type ${t}, want ${types}`);
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) err('const');
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) err('enum');
  if (schema.anyOf && !schema.anyOf.some((s) => !validate(value, s, root, path).length)) err('anyOf');
  if (schema.oneOf && schema.oneOf.filter((s) => !validate(value, s, root, path).length).length < 1) err('oneOf');
  if (schema.allOf) for (const s of schema.allOf) errs.push(...validate(value, s, root, path));
  if (t === 'object') {
    const props = schema.properties ?? {};
    for (const r of schema.required ?? []) if (!(r in value)) err(`missing ${r}`);
    for (const [k, v] of Object.entries(value)) {
      if (k in props) errs.push(...validate(v, props[k], root, `${path}.${k}`));
      else if (schema.additionalProperties === false) err(`additional property ${k}`);
      else if (typeof schema.additionalProperties === 'object') errs.push(...validate(v, schema.additionalProperties, root, `${path}.${k}`));
    }
  }
  if (t === 'array') {
    const prefix = schema.prefixItems ?? (Array.isArray(schema.items) ? schema.items : []);
    value.forEach((v, i) => {
      if (i < prefix.length) errs.push(...validate(v, prefix[i], root, `${path}[${i}]`));
      else if (schema.items && !Array.isArray(schema.items)) errs.push(...validate(v, schema.items, root, `${path}[${i}]`));
    });
    if (schema.minItems !== undefined && value.length < schema.minItems) err('minItems');
    if (schema.maxItems !== undefined && value.length > schema.maxItems) err('maxItems');
  }
  if (t === 'string') {
    const n = [...value].length;
    if (schema.minLength !== undefined && n < schema.minLength) err('minLength');
    if (schema.maxLength !== undefined && n > schema.maxLength) err('maxLength');
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) err('pattern');
    if (schema.format && FORMATS[schema.format] && !FORMATS[schema.format].test(value)) err(`format ${schema.format}`);
  }
  if (t === 'number' || t === 'integer') {
    if (schema.minimum !== undefined && value < schema.minimum) err('minimum');
    if (schema.maximum !== undefined && value > schema.maximum) err('maximum');
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) err('exclusiveMinimum');
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) err('exclusiveMaximum');
  }
  return errs;
}
