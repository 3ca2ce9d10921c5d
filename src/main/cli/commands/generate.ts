import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { GenerateParams } from '../../../shared/models';
import { parse, type Command } from '../command';

const usage =
  'safetune generate --model PATH --prompt TEXT [--chat] [--chat-template FILE] [--adapter DIR] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--json]';

/** Chat template files larger than this are refused (real templates are a few kB). */
export const MAX_CHAT_TEMPLATE_BYTES = 1_000_000;

/**
 * A chat template from a file: a Jinja template as it is (.jinja, .j2, .txt…), or — for a .json file
 * such as a Hugging Face tokenizer_config.json — its `chat_template` (a string, or the "default" of a
 * list of { name, template }, else the first). Errors name the file and what is wrong.
 */
export function readChatTemplateFile(file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new AppError('invalid_input', `--chat-template ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (size > MAX_CHAT_TEMPLATE_BYTES)
    throw new AppError('invalid_input', `--chat-template ${file}: ${size} bytes; a chat template file is at most ${MAX_CHAT_TEMPLATE_BYTES}`);
  const text = readFileSync(file, 'utf8');
  if (!file.toLowerCase().endsWith('.json')) {
    if (!text.trim()) throw new AppError('invalid_input', `--chat-template ${file}: the file is empty`);
    return text;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AppError('invalid_input', `--chat-template ${file}: not valid JSON (${(e as Error).message})`);
  }
  const t = (json as { chat_template?: unknown } | null)?.chat_template;
  if (typeof t === 'string' && t.trim()) return t;
  if (Array.isArray(t)) {
    const named = t.filter((x): x is { name: string; template: string } => typeof x?.name === 'string' && typeof x?.template === 'string');
    const chosen = named.find((x) => x.name === 'default') ?? named[0];
    if (chosen) return chosen.template;
  }
  throw new AppError('invalid_input', `--chat-template ${file}: no "chat_template" (a template string, or a list of { name, template }) in this JSON file`);
}

/** Generates a completion with the local engine, streaming it to stdout; Ctrl-C stops. */
export const generateCommand: Command = {
  name: 'generate',
  usage,
  summary: 'Generate a completion with the local engine (streamed)',
  async run(argv, env) {
    const { values } = parse(
      argv,
      {
        model: { type: 'string' },
        prompt: { type: 'string' },
        chat: { type: 'boolean', default: false },
        'chat-template': { type: 'string' },
        adapter: { type: 'string' },
        'max-tokens': { type: 'string', default: '128' },
        temperature: { type: 'string', default: '0' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      usage,
      {
        prompt: 'The prompt: raw text, or with --chat the user message.',
        chat: "Render the prompt as a user message with the model's chat template.",
        'chat-template':
          "A chat template file to use instead of the model's: a Jinja file, or a tokenizer_config.json whose chat_template is used. Implies --chat.",
        temperature: '0 decodes greedily; higher samples more freely.',
        'top-k': 'Sample only from the K most likely tokens.',
        'top-p': 'Sample only from the most likely tokens whose probabilities add up to P.',
      },
    );
    if (!values.model || values.prompt === undefined) throw new AppError('invalid_input', `--model and --prompt are required\nusage: ${usage}`);
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const parsed = GenerateParams.safeParse({
      modelPath: resolve(values.model),
      ...(values.adapter ? { adapterPath: resolve(values.adapter) } : {}),
      // a chat template file implies --chat
      ...(values.chat || values['chat-template'] ? { messages: [{ role: 'user', content: values.prompt }] } : { prompt: values.prompt }),
      ...(values['chat-template'] ? { chatTemplate: readChatTemplateFile(resolve(values['chat-template'])) } : {}),
      sampling: {
        maxNewTokens: num(values['max-tokens']),
        temperature: num(values.temperature),
        ...(values['top-k'] ? { topK: num(values['top-k']) } : {}),
        ...(values['top-p'] ? { topP: num(values['top-p']) } : {}),
        ...(values.seed ? { seed: num(values.seed) } : {}),
      },
    });
    if (!parsed.success) throw new AppError('invalid_input', parsed.error.issues.map((i) => `--${i.path.at(-1)?.toString()}: ${i.message}`).join('; '));
    const { runGeneration } = await import('../../engine/session');
    let stop = false;
    const onSigint = () => (stop = true);
    process.once('SIGINT', onSigint);
    try {
      let streamed = '';
      const res = await runGeneration(parsed.data, {
        onText: (t) => {
          streamed += t;
          if (!values.json) process.stdout.write(t);
        },
        shouldStop: () => stop,
      }).catch((e: Error) => {
        throw new AppError('invalid_input', e.message);
      });
      if (values.json) env.io.out(JSON.stringify(res));
      else {
        // The stream may hold back a pending stop string: print what it did not show.
        if (res.text.startsWith(streamed)) process.stdout.write(res.text.slice(streamed.length));
        process.stdout.write('\n');
        env.io.err(`[${res.completionTokens} tokens, ${res.tokensPerSecond.toFixed(1)} tok/s on ${res.executionProvider}, finished: ${res.finishReason}]`);
      }
      return 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
