import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { GenerateParams } from '../../../shared/models';
import { parse, type Command } from '../command';

const usage =
  'safetune generate --model PATH --prompt TEXT [--chat] [--adapter DIR] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--json]';

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
        adapter: { type: 'string' },
        'max-tokens': { type: 'string', default: '128' },
        temperature: { type: 'string', default: '0' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (!values.model || values.prompt === undefined) throw new AppError('invalid_input', `--model and --prompt are required\nusage: ${usage}`);
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const parsed = GenerateParams.safeParse({
      modelPath: resolve(values.model),
      ...(values.adapter ? { adapterPath: resolve(values.adapter) } : {}),
      ...(values.chat ? { messages: [{ role: 'user', content: values.prompt }] } : { prompt: values.prompt }),
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
        env.io.err(
          `[${res.completionTokens} tokens, ${res.tokensPerSecond.toFixed(1)} tok/s on ${res.executionProvider}, finished: ${res.finishReason}]`,
        );
      }
      return 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
