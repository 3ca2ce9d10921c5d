/** tokenizer.json (+ tokenizer_config.json) through @huggingface/tokenizers, and chat templates via @huggingface/jinja. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import type { TextTokenizer } from '../tokenizer/types';

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
    if (!existsSync(tj)) throw new Error(`${dir}: missing tokenizer.json (only fast-tokenizer folders are supported)`);
    const cfgPath = join(dir, 'tokenizer_config.json');
    const cfg = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as HfTokenizerConfig) : {};
    let json: object;
    try {
      json = JSON.parse(readFileSync(tj, 'utf8')) as object;
    } catch (e) {
      throw new Error(`${tj}: not valid JSON (${(e as Error).message})`);
    }
    return new HfTokenizer(new Tokenizer(json, cfg), cfg, extraEos, dir);
  }

  encode(text: string, opts: { addSpecial?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecial ?? true }).ids;
  }
  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    // the library refuses an empty list (a reply that ends at once, with EOS, has no tokens)
    if (ids.length === 0) return '';
    return this.tok.decode(ids.slice(), { skip_special_tokens: opts.skipSpecial ?? true });
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

export interface ChatMessage {
  role: string;
  content: string;
}

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
