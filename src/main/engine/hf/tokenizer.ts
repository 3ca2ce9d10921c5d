/**
 * tokenizer.json (+ tokenizer_config.json) through @huggingface/tokenizers, and chat templates via
 * @huggingface/jinja. Both files are checked before the library sees them (it sizes arrays by the
 * largest token id and trusts every field), and whatever the library still throws is reported
 * with the file's name.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { describeJson, isPlainObject, ModelFileError, readJsonFile, readJsonObject } from '../files';
import { CONFIG_LIMITS } from '../model/config';
import type { TextTokenizer } from '../tokenizer/types';

/** The largest tokenizer.json / tokenizer_config.json read (published ones are at most ~35 MB). */
export const MAX_TOKENIZER_BYTES = 100 * 2 ** 20;
const MAX_TOKENIZER_CONFIG_BYTES = 32 * 2 ** 20;
/** Token ids stay below the largest vocabulary a config may declare. */
const MAX_ID = CONFIG_LIMITS.vocabSize;
const MODEL_TYPES = ['BPE', 'WordPiece', 'WordLevel', 'Unigram'];

export interface HfTokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: string | { name: string; template: string }[];
  [k: string]: unknown;
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < MAX_ID;
}

function checkCount(file: string, what: string, n: number): void {
  if (n > MAX_ID) throw new ModelFileError(`${file}: ${what} has ${n} entries (at most ${MAX_ID})`);
}

/** The model part of tokenizer.json: a known type, a vocabulary of ids below MAX_ID, merges of token pairs. */
function checkTokenizerModel(file: string, model: Record<string, unknown>): void {
  const type = model['type'];
  if (type !== undefined && (typeof type !== 'string' || !MODEL_TYPES.includes(type)))
    throw new ModelFileError(
      `${file}: model.type ${typeof type === 'string' ? JSON.stringify(type) : describeJson(type)} is not supported (supported: ${MODEL_TYPES.join(', ')})`,
    );
  const vocab = model['vocab'];
  if (type === 'Unigram' || (type === undefined && Array.isArray(vocab))) {
    if (!Array.isArray(vocab))
      throw new ModelFileError(`${file}: model.vocab of a Unigram tokenizer is ${describeJson(vocab)}; expected a list of [token, score] pairs`);
    checkCount(file, 'model.vocab', vocab.length);
    vocab.forEach((e, i) => {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'number')
        throw new ModelFileError(`${file}: model.vocab[${i}] is ${describeJson(e)}; expected a [token, score] pair`);
    });
    const unk = model['unk_id'];
    if (unk !== undefined && unk !== null && !(isId(unk) && unk < vocab.length))
      throw new ModelFileError(`${file}: model.unk_id ${describeJson(unk)} is not an id in the vocabulary (0 to ${vocab.length - 1})`);
    return;
  }
  if (!isPlainObject(vocab)) throw new ModelFileError(`${file}: model.vocab is ${describeJson(vocab)}; expected an object of token → id`);
  const entries = Object.entries(vocab);
  checkCount(file, 'model.vocab', entries.length);
  for (const [token, id] of entries)
    if (!isId(id))
      throw new ModelFileError(`${file}: model.vocab ${JSON.stringify(token)} has id ${describeJson(id)}; expected a whole number from 0 to ${MAX_ID - 1}`);
  if (type === 'BPE' || model['merges'] !== undefined) {
    const merges = model['merges'];
    if (!Array.isArray(merges)) throw new ModelFileError(`${file}: model.merges is ${describeJson(merges)}; expected a list of merges`);
    checkCount(file, 'model.merges', merges.length);
    merges.forEach((m, i) => {
      const ok = typeof m === 'string' || (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string');
      if (!ok) throw new ModelFileError(`${file}: model.merges[${i}] is ${describeJson(m)}; expected "a b" or ["a", "b"]`);
    });
  }
}

/** Checks a parsed tokenizer.json before the library sees it; a missing added_tokens list is taken as empty. */
export function checkTokenizerJson(j: unknown, file: string): Record<string, unknown> {
  if (!isPlainObject(j)) throw new ModelFileError(`${file}: expected a JSON object, found ${describeJson(j)}`);
  const model = j['model'];
  if (!isPlainObject(model)) throw new ModelFileError(`${file}: "model" is ${model === undefined ? 'missing' : describeJson(model)}; expected an object`);
  checkTokenizerModel(file, model);
  const added = j['added_tokens'] ?? [];
  if (!Array.isArray(added)) throw new ModelFileError(`${file}: "added_tokens" is ${describeJson(added)}; expected a list`);
  checkCount(file, 'added_tokens', added.length);
  added.forEach((t, i) => {
    if (!isPlainObject(t) || typeof t['content'] !== 'string')
      throw new ModelFileError(`${file}: added_tokens[${i}] has no text ("content" is ${describeJson(isPlainObject(t) ? t['content'] : t)})`);
    if (!isId(t['id']))
      throw new ModelFileError(
        `${file}: added_tokens[${i}] (${JSON.stringify(t['content'])}) has id ${describeJson(t['id'])}; expected a whole number from 0 to ${MAX_ID - 1}`,
      );
  });
  for (const part of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
    const v = j[part];
    if (v !== undefined && v !== null && !isPlainObject(v)) throw new ModelFileError(`${file}: "${part}" is ${describeJson(v)}; expected an object or null`);
  }
  return { ...j, added_tokens: added };
}

/** Checks the tokenizer_config.json fields this app and the library read. */
export function checkTokenizerConfig(j: Record<string, unknown>, file: string): HfTokenizerConfig {
  for (const k of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
    const v = j[k];
    if (v !== undefined && v !== null && typeof v !== 'string' && !(isPlainObject(v) && typeof v['content'] === 'string'))
      throw new ModelFileError(`${file}: "${k}" is ${describeJson(v)}; expected a token (a string, or an object with "content")`);
  }
  const extra = j['additional_special_tokens'];
  if (extra !== undefined && extra !== null && !Array.isArray(extra))
    throw new ModelFileError(`${file}: "additional_special_tokens" is ${describeJson(extra)}; expected a list`);
  const tmpl = j['chat_template'];
  const namedTemplate = (t: unknown) => isPlainObject(t) && typeof t['name'] === 'string' && typeof t['template'] === 'string';
  if (tmpl !== undefined && tmpl !== null && typeof tmpl !== 'string' && !(Array.isArray(tmpl) && tmpl.every(namedTemplate)))
    throw new ModelFileError(`${file}: "chat_template" is ${describeJson(tmpl)}; expected a template string or a list of { name, template }`);
  return j as HfTokenizerConfig;
}

function tokenText(t: HfTokenizerConfig['bos_token']): string | null {
  if (!t) return null;
  return typeof t === 'string' ? t : t.content;
}

export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly padId: number | null;
  readonly addBos: boolean;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  private readonly special = new Set<number>();

  constructor(
    readonly tok: Tokenizer,
    readonly config: HfTokenizerConfig,
    extraEos: number[] = [],
    /** the folder its tokenizer.json came from (model export copies the tokenizer files from there) */
    readonly dir: string | null = null,
  ) {
    const vocab = tok.get_vocab(true);
    let max = -1;
    for (const id of vocab.values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const id = (s: string | null) => (s === null ? null : (tok.token_to_id(s) ?? null));
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.bosId = id(this.bosToken);
    const eos = id(this.eosToken);
    this.eosIds = [...new Set([...(eos !== null ? [eos] : []), ...extraEos])];
    this.padId = id(tokenText(config.pad_token));
    for (const [tid, t] of tok.get_added_tokens_decoder()) if (t.special) this.special.add(tid);
    // does the post-processor add BOS? probe it
    const probe = tok.encode('a', { add_special_tokens: true }).ids;
    this.addBos = this.bosId !== null && probe[0] === this.bosId;
  }

  static fromFolder(dir: string, extraEos: number[] = []): HfTokenizer {
    const tj = join(dir, 'tokenizer.json');
    if (!existsSync(tj)) throw new ModelFileError(`${dir}: missing tokenizer.json (only fast-tokenizer folders are supported)`);
    const cfgPath = join(dir, 'tokenizer_config.json');
    const cfg = existsSync(cfgPath) ? checkTokenizerConfig(readJsonObject(cfgPath, 'tokenizer_config.json', MAX_TOKENIZER_CONFIG_BYTES), cfgPath) : {};
    const json = checkTokenizerJson(readJsonFile(tj, 'tokenizer.json', MAX_TOKENIZER_BYTES), tj);
    try {
      const t = new HfTokenizer(new Tokenizer(json, cfg), cfg, extraEos, dir);
      t.source = tj;
      return t;
    } catch (e) {
      throw new ModelFileError(`${tj}: cannot be used as a tokenizer (${(e as Error)?.message ?? String(e)})`);
    }
  }

  /** The tokenizer.json this came from: errors of the library while encoding name it. */
  private source: string | null = null;

  private guard<T>(what: string, run: () => T): T {
    try {
      return run();
    } catch (e) {
      if (this.source === null) throw e;
      throw new ModelFileError(`${this.source}: ${what} failed (${(e as Error)?.message ?? String(e)})`);
    }
  }

  encode(text: string, opts: { addSpecial?: boolean } = {}): number[] {
    return this.guard('encoding', () => this.tok.encode(text, { add_special_tokens: opts.addSpecial ?? true }).ids);
  }
  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    // the library refuses an empty list (a reply that ends at once, with EOS, has no tokens)
    if (ids.length === 0) return '';
    return this.guard('decoding', () => this.tok.decode(ids.slice(), { skip_special_tokens: opts.skipSpecial ?? true }));
  }
  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
  isSpecial(id: number): boolean {
    return this.special.has(id);
  }

  /** The chat template string from tokenizer_config.json (the default one when several are named). */
  chatTemplate(): string | null {
    const t = this.config.chat_template;
    if (!t) return null;
    if (typeof t === 'string') return t;
    return (t.find((x) => x.name === 'default') ?? t[0])?.template ?? null;
  }
}

/** One chat turn (defined once, in src/shared/models.ts). */
export type ChatMessage = import('../../../shared/models').ChatMessage;

/** Render a Jinja chat template (HF semantics: messages, bos_token, eos_token, add_generation_prompt). */
export function renderChatTemplate(
  template: string,
  messages: ChatMessage[],
  opts: { bosToken?: string | null; eosToken?: string | null; addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {},
): string {
  const t = new Template(template);
  return t.render({
    messages,
    bos_token: opts.bosToken ?? '',
    eos_token: opts.eosToken ?? '',
    add_generation_prompt: opts.addGenerationPrompt ?? true,
    ...opts.extra,
  });
}
