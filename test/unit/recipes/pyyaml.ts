/**
 * Reading recipe files the way the tools do, with the Python types they get: YAML as PyYAML's
 * safe_load resolves plain scalars (YAML 1.1 rules, regexes from PyYAML's resolver.py), JSON as
 * json.load; and checking a loaded tree against a schema of test/fixtures/recipes/schemas.ts.
 * `pythonTypes` asks the real PyYAML when /usr/bin/python3 has it, to cross-check the port.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { FieldSpec, PyType } from '../../fixtures/recipes/schemas';

export type Py = { t: PyType | 'other'; v: string | number | boolean | null } | { t: 'list'; v: Py[] } | { t: 'dict'; v: Record<string, Py> };

// PyYAML resolver.py implicit resolvers (tag:yaml.org,2002:bool / float / int / null / timestamp).
const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP = /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)?|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9])/;

function plain(raw: string): Py {
  if (BOOL.test(raw)) return { t: 'bool', v: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/.test(raw) };
  if (FLOAT.test(raw)) return { t: 'float', v: Number(raw.replace(/_/g, '')) };
  if (INT.test(raw)) return { t: 'int', v: Number(raw.replace(/_/g, '')) };
  if (NULL.test(raw)) return { t: 'NoneType', v: null };
  if (TIMESTAMP.test(raw)) return { t: 'other', v: raw };
  return { t: 'str', v: raw };
}

function walk(node: unknown): Py {
  if (isMap(node)) {
    const out: Record<string, Py> = {};
    for (const pair of node.items) {
      const key = walk(pair.key);
      if (key.t !== 'str') throw new Error(`YAML key ${JSON.stringify(key.v)} is a ${key.t}, not a string`);
      out[key.v as string] = walk(pair.value);
    }
    return { t: 'dict', v: out };
  }
  if (isSeq(node)) return { t: 'list', v: node.items.map(walk) };
  if (isScalar(node)) {
    if (node.type === 'PLAIN') return plain((node.srcToken as { source: string }).source);
    return { t: 'str', v: String(node.value) };
  }
  throw new Error(`unexpected YAML node ${String((node as Node | null)?.toString?.())}`);
}

/** A YAML document as PyYAML's safe_load types it. */
export function pyyamlLoad(text: string): Py {
  const doc = parseDocument(text, { version: '1.1', keepSourceTokens: true, uniqueKeys: true });
  if (doc.errors.length) throw new Error(`not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  return walk(doc.contents);
}

/** A JSON value as json.load types it. */
export function pyJson(v: unknown): Py {
  if (v === null) return { t: 'NoneType', v: null };
  if (Array.isArray(v)) return { t: 'list', v: v.map(pyJson) };
  if (typeof v === 'object') return { t: 'dict', v: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, pyJson(x)])) };
  if (typeof v === 'boolean') return { t: 'bool', v };
  if (typeof v === 'number') return { t: Number.isInteger(v) ? 'int' : 'float', v };
  return { t: 'str', v: String(v) };
}

/** Plain JS value of a typed tree. */
export function plainValue(p: Py): unknown {
  if (p.t === 'list') return (p.v as Py[]).map(plainValue);
  if (p.t === 'dict') return Object.fromEntries(Object.entries(p.v as Record<string, Py>).map(([k, x]) => [k, plainValue(x)]));
  return p.v;
}

export function dict(p: Py, what: string): Record<string, Py> {
  if (p.t !== 'dict') throw new Error(`${what} is a ${p.t}, not a mapping`);
  return p.v as Record<string, Py>;
}

/**
 * Problems of a mapping against a schema: keys the schema does not have, values of a type the
 * field does not take, values outside its choices. Empty when it conforms.
 */
export function schemaProblems(p: Py, schema: Record<string, FieldSpec>, what: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(dict(p, what))) {
    const spec = schema[key];
    if (!spec) {
      problems.push(`${what}.${key}: not a field of the documented schema`);
      continue;
    }
    if (!spec.types.includes(value.t as PyType))
      problems.push(`${what}.${key}: ${value.t} ${JSON.stringify(plainValue(value))}, the field takes ${spec.types.join(' | ')}`);
    if (spec.auto && value.t === 'str' && value.v !== 'auto')
      problems.push(`${what}.${key}: the only string it takes is "auto", got ${JSON.stringify(value.v)}`);
    if (
      spec.choices &&
      value.t !== 'NoneType' &&
      value.t !== 'list' &&
      value.t !== 'dict' &&
      !(spec.auto && value.v === 'auto') &&
      !spec.choices.includes(value.v as string)
    ) {
      problems.push(`${what}.${key}: ${JSON.stringify(value.v)} is not one of ${spec.choices.join(', ')}`);
    }
    if (spec.items && value.t === 'list')
      for (const [i, item] of (value.v as Py[]).entries())
        if (!spec.items.includes(item.t as PyType)) problems.push(`${what}.${key}[${i}]: ${item.t}, items are ${spec.items.join(' | ')}`);
  }
  return problems;
}

const PYTHON = '/usr/bin/python3';
const PY_TYPES = `
import json, sys, yaml
def tree(x):
    if isinstance(x, dict): return {"t": "dict", "v": {str(k): tree(v) for k, v in x.items()}}
    if isinstance(x, list): return {"t": "list", "v": [tree(v) for v in x]}
    return {"t": type(x).__name__, "v": x}
print(json.dumps([tree(yaml.safe_load(open(p, encoding="utf-8"))) for p in sys.argv[1:]]))
`;

/** Whether the real PyYAML is here to cross-check with. */
export function pythonYamlAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import yaml'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** YAML files as the real PyYAML (yaml.safe_load) types them. */
export function pythonTypes(files: string[]): Py[] {
  return JSON.parse(execFileSync(PYTHON, ['-c', PY_TYPES, ...files], { encoding: 'utf8' })) as Py[];
}
