/**
 * A small JSON Schema (draft 2020-12) validator for the subset our published schemas use:
 * type (incl. arrays of types, "integer"), const, enum, properties, required,
 * additionalProperties (boolean or schema), items, prefixItems, minItems, maxItems, minLength,
 * pattern, minimum, maximum, oneOf, anyOf, and local $ref ("#/$defs/name"). Anything else in a
 * schema is refused at load time, so the validator never silently ignores a keyword.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema',
  '$id',
  '$defs',
  '$ref',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'pattern',
  'minimum',
  'maximum',
  'oneOf',
  'anyOf',
]);

function checkKeywords(s: unknown, where: string): void {
  if (typeof s !== 'object' || s === null) return;
  for (const [k, v] of Object.entries(s)) {
    if (!KNOWN.has(k)) throw new Error(`${where}: unsupported schema keyword '${k}'`);
    if (k === 'properties' || k === '$defs') {
      for (const [n, sub] of Object.entries(v as Schema)) checkKeywords(sub, `${where}/${k}/${n}`);
    } else if (k === 'items' || k === 'additionalProperties') checkKeywords(v, `${where}/${k}`);
    else if (k === 'prefixItems' || k === 'oneOf' || k === 'anyOf')
      for (const [i, sub] of (v as unknown[]).entries()) checkKeywords(sub, `${where}/${k}/${i}`);
  }
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function typeMatches(v: unknown, t: string): boolean {
  if (t === 'integer') return typeof v === 'number' && Number.isInteger(v);
  if (t === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeOf(v) === t;
}

export class JsonSchema {
  private readonly root: Schema;

  constructor(schema: Schema) {
    checkKeywords(schema, '#');
    this.root = schema;
  }

  static load(path: string): JsonSchema {
    return new JsonSchema(JSON.parse(readFileSync(path, 'utf8')) as Schema);
  }

  /** Error messages (empty = valid). */
  validate(value: unknown): string[] {
    const errors: string[] = [];
    this.check(this.root, value, '', errors);
    return errors;
  }

  private resolve(ref: string): Schema {
    const m = /^#\/\$defs\/(.+)$/.exec(ref);
    const defs = this.root.$defs as Record<string, Schema> | undefined;
    const s = m ? defs?.[m[1]!] : undefined;
    if (!s) throw new Error(`unresolvable $ref ${ref}`);
    return s;
  }

  private check(s: Schema, v: unknown, path: string, errors: string[]): void {
    const at = path || '/';
    if (typeof s.$ref === 'string') this.check(this.resolve(s.$ref), v, path, errors);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => typeMatches(v, t))) {
        errors.push(`${at}: expected ${types.join('|')}, got ${typeOf(v)}`);
        return;
      }
    }
    if ('const' in s && JSON.stringify(v) !== JSON.stringify(s.const))
      errors.push(`${at}: expected ${JSON.stringify(s.const)}, got ${JSON.stringify(v)}`);
    if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v)))
      errors.push(`${at}: ${JSON.stringify(v)} not in ${JSON.stringify(s.enum)}`);
    if (typeof v === 'string') {
      if (typeof s.minLength === 'number' && v.length < s.minLength)
        errors.push(`${at}: shorter than ${s.minLength}`);
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v))
        errors.push(`${at}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    }
    if (typeof v === 'number') {
      if (typeof s.minimum === 'number' && v < s.minimum) errors.push(`${at}: ${v} < ${s.minimum}`);
      if (typeof s.maximum === 'number' && v > s.maximum) errors.push(`${at}: ${v} > ${s.maximum}`);
    }
    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems)
        errors.push(`${at}: fewer than ${s.minItems} items`);
      if (typeof s.maxItems === 'number' && v.length > s.maxItems)
        errors.push(`${at}: more than ${s.maxItems} items`);
      const prefix = (s.prefixItems as Schema[] | undefined) ?? [];
      for (const [i, item] of v.entries()) {
        const sub = i < prefix.length ? prefix[i] : (s.items as Schema | undefined);
        if (sub) this.check(sub, item, `${path}/${i}`, errors);
      }
    }
    if (typeOf(v) === 'object') {
      const o = v as Record<string, unknown>;
      for (const r of (s.required as string[] | undefined) ?? [])
        if (!(r in o)) errors.push(`${at}: missing required '${r}'`);
      const props = (s.properties as Record<string, Schema> | undefined) ?? {};
      for (const [k, val] of Object.entries(o)) {
        if (props[k]) this.check(props[k], val, `${path}/${k}`, errors);
        else if (s.additionalProperties === false) errors.push(`${at}: unexpected property '${k}'`);
        else if (typeof s.additionalProperties === 'object')
          this.check(s.additionalProperties as Schema, val, `${path}/${k}`, errors);
      }
    }
    for (const key of ['oneOf', 'anyOf'] as const) {
      const alts = s[key] as Schema[] | undefined;
      if (!alts) continue;
      const results = alts.map((a) => {
        const e: string[] = [];
        this.check(a, v, path, e);
        return e;
      });
      const ok = results.filter((e) => e.length === 0).length;
      if (key === 'oneOf' && ok !== 1) {
        if (ok === 0) {
          const best = results.reduce((a, b) => (b.length < a.length ? b : a));
          errors.push(`${at}: matches none of oneOf (closest: ${best.slice(0, 3).join('; ')})`);
        } else errors.push(`${at}: matches ${ok} of oneOf, expected exactly 1`);
      }
      if (key === 'anyOf' && ok === 0) errors.push(`${at}: matches none of anyOf`);
    }
  }
}

/** The published schemas of this package. */
export function alertSchemaPath(): string {
  return fileURLToPath(new URL('./schema/alert.schema.json', import.meta.url));
}
export function statsSchemaPath(): string {
  return fileURLToPath(new URL('./schema/stats.schema.json', import.meta.url));
}
