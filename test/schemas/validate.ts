// A small JSON Schema validator for the subset our checked-in schemas use: type (incl. integer),
// enum, const, required, properties, additionalProperties:false, items, minimum/maximum, pattern,
// minItems. Returns the list of violations as `PATH: message` (empty = valid). Unknown keywords
// are refused so a schema cannot silently use something this validator ignores.
export type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', '$id', 'title', 'description', 'type', 'enum', 'const', 'required', 'properties',
  'additionalProperties', 'items', 'minimum', 'maximum', 'pattern', 'minItems',
]);

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    default:
      throw new Error(`schema: unsupported type ${t}`);
  }
}

export function validate(schema: Schema, value: unknown, path = '$'): string[] {
  const errs: string[] = [];
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`schema: unsupported keyword ${k} at ${path}`);
  if (schema['type'] !== undefined) {
    const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : [schema['type'] as string];
    if (!types.some((t) => typeOk(t, value))) return [`${path}: expected ${types.join('|')}, got ${JSON.stringify(value)?.slice(0, 60)}`];
  }
  if (schema['enum'] !== undefined && !(schema['enum'] as unknown[]).some((e) => e === value)) errs.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if ('const' in schema && schema['const'] !== value) errs.push(`${path}: expected ${JSON.stringify(schema['const'])}`);
  if (typeof value === 'number') {
    if (typeof schema['minimum'] === 'number' && value < schema['minimum']) errs.push(`${path}: ${value} < minimum ${schema['minimum']}`);
    if (typeof schema['maximum'] === 'number' && value > schema['maximum']) errs.push(`${path}: ${value} > maximum ${schema['maximum']}`);
  }
  if (typeof value === 'string' && typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern'], 'u').test(value)) {
    errs.push(`${path}: ${JSON.stringify(value)} does not match ${schema['pattern']}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema['minItems'] === 'number' && value.length < schema['minItems']) errs.push(`${path}: fewer than ${schema['minItems']} items`);
    if (schema['items'] !== undefined) value.forEach((v, i) => errs.push(...validate(schema['items'] as Schema, v, `${path}[${i}]`)));
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema['properties'] ?? {}) as Record<string, Schema>;
    for (const r of (schema['required'] ?? []) as string[]) if (!(r in obj)) errs.push(`${path}: missing required ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k] !== undefined) errs.push(...validate(props[k], v, `${path}.${k}`));
      else if (schema['additionalProperties'] === false) errs.push(`${path}: unexpected property ${k}`);
    }
  }
  return errs;
}
