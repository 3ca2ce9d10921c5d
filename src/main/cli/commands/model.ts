import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import type { ModelInfo } from '../../../shared/models';
import { parse, type Command } from '../command';

const usage = [
  'safetune model info PATH [--json]',
  '       safetune model merge PATH --adapter DIR --out PATH [--json]',
  '       safetune model quantize PATH --type q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k_s|q3_k_m|q3_k_l|q4_k_s|q4_k_m|q5_k_s|q5_k_m|q6_k|f16|f32 --out OUT.gguf [--allow-requantize] [--json]',
].join('\n');

/** What the Models list shows, for a GGUF file or a Hugging Face folder; LoRA merging; quantisation to GGUF. */
export const modelCommand: Command = {
  name: 'model',
  usage,
  summary: 'Architecture, size, context, execution provider and memory estimates of a model; merge a LoRA adapter into it; quantise it to a GGUF file',
  async run(argv, env) {
    const { values, positionals } = parse(
      argv,
      {
        json: { type: 'boolean', default: false },
        adapter: { type: 'string' },
        out: { type: 'string' },
        type: { type: 'string' },
        'allow-requantize': { type: 'boolean', default: false },
      },
      usage,
      {
        out: 'Where the merged or quantised model is written (a new folder or .gguf file; never overwritten).',
        type: 'The GGUF type to quantise to (e.g. q8_0, q4_k_m).',
        'allow-requantize': 'Quantise a model that is already quantised (loses more precision).',
      },
    );
    const [sub, path] = positionals;
    if (sub === 'merge' && path) {
      if (!values.adapter || !values.out) throw new AppError('invalid_input', `model merge needs --adapter and --out\nusage: ${usage}`);
      const { exportMergedModel } = await import('../../engine/mergeExport');
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
      else
        env.io.out(`wrote ${r.modelPath} (${r.format === 'hf' ? 'Hugging Face folder' : 'GGUF'}, ${r.tensors} tensors, ${(r.bytes / 2 ** 20).toFixed(1)} MiB)`);
      return 0;
    }
    if (sub === 'quantize' && path) {
      if (!values.type || !values.out) throw new AppError('invalid_input', `model quantize needs --type and --out\nusage: ${usage}`);
      const { quantizeModel } = await import('../../engine/gguf/quantize');
      let last = -1;
      const r = (() => {
        try {
          return quantizeModel(resolve(path), resolve(values.out), values.type, {
            allowRequantize: values['allow-requantize'],
            onProgress: (done, total) => {
              const pct = Math.floor((100 * done) / Math.max(1, total));
              if (pct >= last + 10 || done === total) env.io.err(`quantising: ${done}/${total} tensors`);
              if (pct >= last + 10) last = pct;
            },
          });
        } catch (e) {
          throw new AppError('invalid_input', (e as Error).message);
        }
      })();
      if (values.json) env.io.out(JSON.stringify(r));
      else {
        const mix = Object.entries(r.types)
          .map(([t, n]) => `${t} x${n}`)
          .join(', ');
        env.io.out(`wrote ${r.path} (${r.preset}: ${mix}; ${r.tensors} tensors, ${(r.bytes / 2 ** 20).toFixed(1)} MiB)`);
      }
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
