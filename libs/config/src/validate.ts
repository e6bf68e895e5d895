import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { closestMatch, didYouMean, isPlainObject, type Diagnostic, type JsonSchema, type PathSegment } from '@dlexp/core';
import type { ExperimentSource } from './source';

/** Compiles the experiment schema once per process. */
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

function compile(schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, discriminator: true, verbose: true, allowUnionTypes: true });
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

function pathOf(instancePath: string): PathSegment[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a mapping';
  if (typeof value === 'string') return `the string '${value}'`;
  return `${typeof value} ${String(value)}`;
}

const TYPE_WORDS: Record<string, string> = { number: 'a number', integer: 'an integer', string: 'a string', boolean: 'true or false', object: 'a mapping', array: 'a list', null: 'null' };

/** JSON type of a value in JSON Schema's words. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value === 'object' ? 'object' : typeof value;
}

function branchAccepts(schema: unknown, value: unknown): boolean {
  if (!isPlainObject(schema)) return false;
  const type = schema['type'];
  const actual = jsonType(value);
  if (typeof type === 'string') return type === actual || (type === 'number' && actual === 'integer');
  if ('$ref' in schema) return actual === 'object';
  return false;
}

/** Turns ajv's errors into diagnostics at YAML positions, with "did you mean" where it helps. */
function toDiagnostics(errors: ErrorObject[], source: ExperimentSource): Diagnostic[] {
  // anyOf (a number or a schedule): keep only the errors of the branch whose type matches the value.
  // Errors inside a $ref'd branch carry the referenced schema's path, not the anyOf's, so they are
  // recognized by their instance path instead.
  const dropped = new Set<ErrorObject>();
  for (const error of errors) {
    if (error.keyword !== 'anyOf') continue;
    const branches = (error.schema as unknown[]) ?? [];
    const matching = branches.findIndex((b) => branchAccepts(b, error.data));
    const matchingIsRef = matching >= 0 && isPlainObject(branches[matching]) && '$ref' in (branches[matching] as object);
    for (const other of errors) {
      if (other === error) continue;
      const inBranch = other.schemaPath.startsWith(`${error.schemaPath}/`);
      // A $ref'd branch compiled on its own (a recursive schema) reports paths relative to itself.
      const viaRef = !inBranch && !other.schemaPath.startsWith(`${error.schemaPath}`) && (other.instancePath === error.instancePath || other.instancePath.startsWith(`${error.instancePath}/`));
      if (inBranch && (matching < 0 || !other.schemaPath.startsWith(`${error.schemaPath}/${matching}/`))) dropped.add(other);
      if (viaRef && !matchingIsRef) dropped.add(other);
    }
    if (matching >= 0) dropped.add(error);
  }
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (dropped.has(error)) continue;
    const path = pathOf(error.instancePath);
    let diagnostic: Diagnostic;
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String(error.params['additionalProperty']);
        const known = Object.keys((error.parentSchema?.['properties'] as Record<string, unknown> | undefined) ?? {});
        const list = known.length > 0 ? ` (allowed: ${known.join(', ')})` : '';
        const suggestion = closestMatch(key, known);
        diagnostic = source.diagnostic([...path, key], `unknown key '${key}'${suggestion !== undefined ? `; did you mean '${suggestion}'?` : list}`, { atKey: true });
        break;
      }
      case 'required':
        diagnostic = source.diagnostic(path, `missing required key '${String(error.params['missingProperty'])}'`);
        break;
      case 'discriminator': {
        const value = error.data;
        const tag = isPlainObject(value) ? value['type'] : undefined;
        const names = ((error.parentSchema?.['oneOf'] as JsonSchema[] | undefined) ?? []).map((branch) => String((branch['properties'] as Record<string, { const: string }>)['type']?.const));
        const kind = String(error.parentSchema?.['description'] ?? 'entry').replace(/^A (\S+),.*$/s, '$1');
        diagnostic =
          typeof tag === 'string'
            ? source.diagnostic([...path, 'type'], `unknown ${kind} '${tag}'${didYouMean(tag, names)} (known: ${names.join(', ')})`)
            : source.diagnostic(path, `'type' must name a ${kind}: ${names.join(', ')}`);
        break;
      }
      case 'enum': {
        const allowed = (error.params['allowedValues'] as unknown[]).map(String);
        const value = String(error.data);
        if (path[path.length - 1] === 'type') continue; // reported by the discriminator
        diagnostic = source.diagnostic(path, `${describeValue(error.data)} is not allowed${didYouMean(value, allowed)} (allowed: ${allowed.join(', ')})`);
        break;
      }
      case 'type': {
        const expected = String(error.params['type'])
          .split(',')
          .map((t) => TYPE_WORDS[t] ?? t)
          .join(' or ');
        diagnostic = source.diagnostic(path, `expected ${expected}, got ${describeValue(error.data)}`);
        break;
      }
      case 'anyOf':
        diagnostic = source.diagnostic(path, `${describeValue(error.data)} is not allowed here: ${String(error.parentSchema?.['description'] ?? 'see the schema')}`);
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const words: Record<string, string> = { minimum: 'at least', maximum: 'at most', exclusiveMinimum: 'greater than', exclusiveMaximum: 'less than' };
        diagnostic = source.diagnostic(path, `${String(error.data)} is out of range: must be ${words[error.keyword]} ${String(error.params['limit'])}`);
        break;
      }
      case 'pattern':
        diagnostic = source.diagnostic(path, `'${String(error.data)}' does not match the required form ${String(error.params['pattern'])}`);
        break;
      case 'propertyNames':
        continue; // its 'pattern' error names the key itself
      default:
        diagnostic = source.diagnostic(path, error.message ?? 'is not valid');
    }
    if (error.keyword === 'pattern' && error.propertyName !== undefined) {
      diagnostic = source.diagnostic([...path, error.propertyName], `'${error.propertyName}' is not a valid name: it must match ${String(error.params['pattern'])}`, { atKey: true });
    }
    const key = `${diagnostic.line}:${diagnostic.col}:${diagnostic.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(diagnostic);
    }
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Validates data against the schema; returns every problem (empty when valid). */
export function validateAgainstSchema(schema: JsonSchema, data: unknown, source: ExperimentSource): Diagnostic[] {
  const validate = compile(schema);
  if (validate(data)) return [];
  return toDiagnostics(validate.errors ?? [], source);
}
