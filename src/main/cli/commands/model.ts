import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import type { ModelInfo } from '../../../shared/models';
import { parse, type Command } from '../command';

const usage = 'safetune model info PATH [--json]\n       safetune model merge PATH --adapter DIR --out PATH [--json]';

/** What the Models list shows, for a GGUF file or a Hugging Face folder; and LoRA merging. */
export const modelCommand: Command = {
  name: 'model',
  usage,
  summary: 'Architecture, size, context, execution provider and memory estimates of a model; merge a LoRA adapter into it',
  async run(argv, env) {
    const { values, positionals } = parse(
      argv,
      { json: { type: 'boolean', default: false }, adapter: { type: 'string' }, out: { type: 'string' } },
      usage,
    );
    const [sub, path] = positionals;
    if (sub === 'merge' && path) {
      if (!values.adapter || !values.out) throw new AppError('invalid_input', `model merge needs --adapter and --out\nusage: ${usage}`);
      const { exportMergedModel } = await import('../../engine/merge-export');
      let last = -1;
      const r = (() => {
        try {
          return exportMergedModel(resolve(path), resolve(values.adapter), resolve(values.out), {
            onProgress: (done, total) => {
              const pct = Math.floor((100 * done) / Math.max(1, total));
              if (pct >= last + 10 || done === total) env.io.err(`merging: ${done}/${total} tensors`);
              if (pct >= last + 10) last = pct;
            },
          });
        } catch (e) {
          throw new AppError('invalid_input', (e as Error).message);
        }
      })();
      if (values.json) env.io.out(JSON.stringify(r));
      else env.io.out(`wrote ${r.modelPath} (${r.format === 'hf' ? 'Hugging Face folder' : 'GGUF'}, ${r.tensors} tensors, ${(r.bytes / 2 ** 20).toFixed(1)} MiB)`);
      return 0;
    }
    if (sub !== 'info' || !path) throw new AppError('invalid_input', `usage: ${usage}`);
    const { loadModel, modelInfo } = await import('../../engine');
    let info: ModelInfo;
    try {
      info = (await modelInfo(loadModel(resolve(path)))) as ModelInfo;
    } catch (e) {
      throw new AppError('invalid_input', (e as Error).message);
    }
    if (values.json) env.io.out(JSON.stringify(info));
    else for (const line of describeModel(info)) env.io.out(line);
    return 0;
  },
};

export function describeModel(m: ModelInfo): string[] {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 3 : 1)} GiB`;
  const dtypes = Object.entries(m.storageDtypes)
    .map(([k, v]) => `${k} ${v.toLocaleString()}`)
    .join(', ');
  return [
    `${m.name}  (${m.format === 'gguf' ? 'GGUF' : 'Hugging Face folder'})`,
    `architecture:      ${m.architecture}`,
    `parameters:        ${m.parameterCount.toLocaleString()}`,
    `stored dtypes:     ${dtypes} (computed in ${m.computeDtype})`,
    `context length:    ${m.contextLength}`,
    `layers / hidden:   ${m.layers} / ${m.hiddenSize}, heads ${m.heads} (KV ${m.kvHeads}), head dim ${m.headDim}`,
    `vocabulary:        ${m.vocabSize}${m.tiedEmbeddings ? ', tied embeddings' : ''}`,
    `chat template:     ${m.hasChatTemplate ? 'yes' : 'no'}`,
    `execution:         ${m.executionProvider.name}${m.executionProvider.notice ? ` (${m.executionProvider.notice})` : ''}`,
    `memory, inference: ${gib(m.memory.inferenceBytes)} (weights ${gib(m.memory.weightBytes)})`,
    `memory, LoRA:      ${gib(m.memory.loraTrainingBytes)}`,
  ];
}
