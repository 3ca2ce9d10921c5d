/**
 * mergekit merge configs (YAML) ↔ the shared MergeConfig. Reads merge_method, base_model, models
 * (each `model` a path, mergekit's `path+adapter`, or `{ model, lora }`, with its `parameters`),
 * parameters, dtype, out_dtype and tokenizer_source: base; refuses unknown keys by name and the
 * mergekit features not supported here (slices, modules, tokenizer merging). Relative model paths
 * are resolved against the YAML file's folder. Errors name the file, the line and the field.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, stringify } from 'yaml';
import { MergeConfig, type MergeModelRef } from '../../shared/merge';

const TOP_KEYS = ['merge_method', 'base_model', 'models', 'parameters', 'dtype', 'out_dtype', 'tokenizer_source'];
const UNSUPPORTED: Record<string, string> = {
  slices: 'slices (layer ranges, e.g. passthrough frankenmerges) are not supported: list whole models under models:',
  modules: 'modules are not supported: list whole models under models:',
  tokenizer: 'tokenizer merging is not supported: the output takes the base model’s tokenizer',
  chat_template: 'chat_template is not supported: the output keeps the base model’s chat template',
};
const MODEL_KEYS = ['model', 'parameters'];
/** largest merge config read (a config is a few hundred bytes) */
const MAX_YAML_BYTES = 1 << 20;

/** Our field names → mergekit's, for messages. */
const YAML_NAME: Record<string, string> = { method: 'merge_method', base: 'base_model', outDtype: 'out_dtype', modelPath: 'model', adapterPath: 'lora' };

export class MergeConfigError extends Error {}

interface Located {
  file: string;
  lineOf(path: (string | number)[]): number | null;
}

function fail(loc: Located, path: (string | number)[], message: string): never {
  const line = loc.lineOf(path);
  const field = path.map((p) => YAML_NAME[p] ?? p).join('.');
  throw new MergeConfigError(`${loc.file}${line ? `:${line}` : ''}: ${field ? `${field}: ` : ''}${message}`);
}

/** A model reference: "path", "path+adapter" (mergekit), or { model, lora } (each a string or { path }). */
function parseRef(v: unknown, loc: Located, path: (string | number)[], baseDir: string): MergeModelRef {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const str = (x: unknown, at: (string | number)[]): string => {
    if (typeof x === 'string' && x.trim()) return x.trim();
    if (x && typeof x === 'object' && typeof (x as { path?: unknown }).path === 'string') return (x as { path: string }).path;
    return fail(loc, at, 'expected a model path');
  };
  if (typeof v === 'string') {
    const s = v.trim();
    const plus = s.indexOf('+');
    if (plus > 0 && !existsSync(abs(s))) return { modelPath: abs(s.slice(0, plus)), adapterPath: abs(s.slice(plus + 1)) };
    return { modelPath: abs(str(s, path)) };
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => k !== 'model' && k !== 'lora');
    if (unknown.length)
      fail(loc, [...path, unknown[0]!], `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (a model reference has model and lora)`);
    const model = abs(str(o['model'], [...path, 'model']));
    return o['lora'] === undefined || o['lora'] === null ? { modelPath: model } : { modelPath: model, adapterPath: abs(str(o['lora'], [...path, 'lora'])) };
  }
  return fail(loc, path, 'expected a model path, model+adapter, or { model, lora }');
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], loc: Located, path: (string | number)[]): void {
  const unknown = Object.keys(obj).filter((k) => !allowed.includes(k));
  const unsupported = unknown.find((k) => UNSUPPORTED[k] && path.length === 0);
  if (unsupported) fail(loc, [unsupported], UNSUPPORTED[unsupported]!);
  if (unknown.length) fail(loc, [...path, unknown[0]!], `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (expected: ${allowed.join(', ')})`);
}

/** Parse a mergekit YAML config. `file` is used in messages; relative paths resolve against `baseDir`. */
export function parseMergeYaml(text: string, file: string, baseDir: string): MergeConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const loc: Located = {
    file,
    lineOf(path) {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node?.range) return lines.linePos(node.range[0]).line;
        // a key whose value is null: point at the pair's key
        const parent = doc.getIn(path.slice(0, Math.max(0, n - 1)), true) as
          | { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] }
          | undefined;
        const key = parent?.items?.find((it) => it.key?.value === path[n - 1])?.key;
        if (n > 0 && key?.range) return lines.linePos(key.range[0]).line;
      }
      return null;
    },
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new MergeConfigError(`${file}:${lines.linePos(e.pos[0]).line}: not valid YAML (${e.message.split('\n')[0]})`);
  }
  const raw = doc.toJS({ maxAliasCount: 50 }) as unknown;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(loc, [], 'expected a mapping with merge_method and models');
  const y = raw as Record<string, unknown>;
  checkKeys(y, TOP_KEYS, loc, []);
  if (y['tokenizer_source'] !== undefined && y['tokenizer_source'] !== null && y['tokenizer_source'] !== 'base')
    fail(
      loc,
      ['tokenizer_source'],
      `${JSON.stringify(y['tokenizer_source'])} is not supported: the output takes the base model’s tokenizer (tokenizer_source: base)`,
    );
  if (!Array.isArray(y['models'])) fail(loc, ['models'], 'expected a list of models (each with model: and parameters:)');
  const models = (y['models'] as unknown[]).map((m, i) => {
    const at = ['models', i];
    if (!m || typeof m !== 'object' || Array.isArray(m)) fail(loc, at, 'expected { model: PATH, parameters: {...} }');
    const o = m as Record<string, unknown>;
    checkKeys(o, MODEL_KEYS, loc, at);
    return { model: parseRef(o['model'], loc, [...at, 'model'], baseDir), parameters: o['parameters'] ?? {} };
  });
  const config = {
    method: y['merge_method'],
    ...(y['base_model'] !== undefined && y['base_model'] !== null ? { base: parseRef(y['base_model'], loc, ['base_model'], baseDir) } : {}),
    models,
    parameters: y['parameters'] ?? {},
    ...(y['dtype'] !== undefined && y['dtype'] !== null ? { dtype: y['dtype'] } : {}),
    ...(y['out_dtype'] !== undefined && y['out_dtype'] !== null ? { outDtype: y['out_dtype'] } : {}),
  };
  const parsed = MergeConfig.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map((p) => (p === 'method' ? 'merge_method' : p === 'base' ? 'base_model' : p === 'outDtype' ? 'out_dtype' : p)) as (
      | string
      | number
    )[];
    const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problem${parsed.error.issues.length > 2 ? 's' : ''})` : '';
    fail(loc, path, issue.message + more);
  }
  return parsed.data;
}

/** Read and parse a mergekit YAML file (at most 1 MiB); relative model paths resolve against its folder. */
export function readMergeYaml(path: string): MergeConfig {
  if (!existsSync(path)) throw new MergeConfigError(`${path}: not found`);
  const size = statSync(path).size;
  if (size > MAX_YAML_BYTES) throw new MergeConfigError(`${path}: ${size} bytes is too large for a merge config (at most ${MAX_YAML_BYTES})`);
  return parseMergeYaml(readFileSync(path, 'utf8'), path, dirname(resolve(path)));
}

function refYaml(r: MergeModelRef): string {
  return r.adapterPath ? `${r.modelPath}+${r.adapterPath}` : r.modelPath;
}

/** The config as mergekit YAML (what mergekit-yaml reads, and what a merged folder records). */
export function toMergeYaml(c: MergeConfig): string {
  const doc: Record<string, unknown> = {
    merge_method: c.method,
    ...(c.base ? { base_model: refYaml(c.base) } : {}),
    models: c.models.map((m) => ({ model: refYaml(m.model), ...(Object.keys(m.parameters).length ? { parameters: m.parameters } : {}) })),
    ...(Object.keys(c.parameters).length ? { parameters: c.parameters } : {}),
    ...(c.dtype ? { dtype: c.dtype } : {}),
    ...(c.outDtype ? { out_dtype: c.outDtype } : {}),
  };
  return stringify(doc);
}
