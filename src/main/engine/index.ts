/**
 * SafeTune local LLM engine, part 1 (inference). Plain Node (no Electron imports): use it from the
 * CLI, tests and worker threads. `session.run` blocks its thread, so run generation in a worker.
 *
 * ```ts
 * import { loadModel, openModel, generate, generateBatch, modelInfo, forwardLogits } from './engine';
 *
 * const model = loadModel('/path/model.gguf' | '/path/hf-folder');       // validates, reads no weights yet
 * const info = await modelInfo(model);                                  // params, ctx, EP, memory estimate
 * const rt = await openModel(model, { threads: 4, cacheDir: '<app data>/engine-cache',  // compiled fp32 weights,
 *                                    lora: '/path/adapter', loraMode: 'merged' });     // memory-mapped, reused
 * const chat = await generateChat(rt, [{ role: 'user', content: 'Hi' }], { maxNewTokens: 64 });
 * const res = await generate(rt, 'Once upon a time', {
 *   maxNewTokens: 64, temperature: 0.7, topP: 0.9, seed: 1, stop: ['\n\n'],
 *   onToken: (e) => process.stdout.write(e.text),
 *   shouldStop: () => Atomics.load(flag, 0) === 1,
 * });                                                                    // { text, tokenIds, finishReason, promptTokens }
 * const many = await generateBatch(rt, prompts, { maxNewTokens: 32, batchSize: 16 });
 * const { logits, dims } = await forwardLogits(rt, [ids]);              // [B, S, V] every position
 * const prompt = applyChatTemplate(model, [{ role: 'user', content: 'Hi' }]);
 * await rt.release();
 * const peak = estimateTrainingMemoryForModel('/path/model.gguf', {     // reads the header only
 *   batch: 4, seq: 512, lora: { rank: 8, alpha: 16, targetModules: ['q', 'v'] } });  // bytes, ±25%
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import { ModelFileError } from './files';
import { readGguf } from './gguf/reader';
import { configFromGguf, loadGgufModel } from './gguf/model';
import type { DecoderConfig } from './model/config';
import { loadHfModel, readHfConfig } from './hf/model';
import { resolveLoraTargets, type LoraConfig } from './train/lora';
import { estimateTrainingMemory, type TrainingMemoryEstimate } from './train/memory';
import { storedBlockTypes } from './train/baseQuant';
import { ggufToHfName } from './gguf/weights';
import { DecoderRuntime, type RuntimeOptions } from './model/runtime';
import { loadLoraAdapter } from './hf/peftAdapter';
import { mergeLora, checkAdapter } from './lora';
import { renderChatTemplate, HfTokenizer, type ChatMessage } from './hf/tokenizer';
import type { LoadedModel } from './model/loaded';
import { chooseExecutionProvider, type ModelInfo } from './info';
import { generate as generateText, type GenerateOptions, type GenerationResult } from './generate';

export type { LoadedModel } from './model/loaded';
export type { DecoderConfig, Architecture } from './model/config';
export { parameterCount } from './model/config';
export { DecoderRuntime, type RuntimeOptions, type KvCache, type StepResult } from './model/runtime';
export { buildDecoderGraph, expectedWeightShapes, validateWeights, type DecoderGraphOptions, type LoraModule } from './model/decoderGraph';
export {
  generate,
  generateBatch,
  sampleToken,
  seededRandom,
  ContextOverflowError,
  type GenerateOptions,
  type GenerationResult,
  type TokenEvent,
  type FinishReason,
  type SamplingOptions,
} from './generate';
export { modelInfo, estimateMemory, chooseExecutionProvider, type ModelInfo, type MemoryEstimate, type ExecutionProviderChoice } from './info';
export { loadLoraAdapter, type LoraAdapter } from './hf/peftAdapter';
export { mergeLora, checkAdapter } from './lora';
export { loadHfModel, configFromHf, readHfConfig, ModelFolderError } from './hf/model';
export { ModelFileError } from './files';
export { loadGgufModel, configFromGguf } from './gguf/model';
export { exportGguf } from './gguf/export';
export { exportModel, type ExportModelOptions, type ExportModelResult } from './modelExport';
export { createModelFromConfig, llamaConfig, InitWeights, type LlamaConfigInput, type InitOptions, type CreateModelOptions } from './model/init';
export type { TextTokenizer } from './tokenizer/types';
export type { TrainingMemoryEstimate } from './train/memory';
export type { ChatMessage } from './hf/tokenizer';

/** What a model path holds: a Hugging Face model folder or a GGUF file; anything else is refused by name. */
function modelFormatOf(path: string): 'hf' | 'gguf' {
  if (!existsSync(path)) throw new ModelFileError(`${path}: not found`);
  if (statSync(path).isDirectory()) return 'hf';
  if (path.toLowerCase().endsWith('.gguf')) return 'gguf';
  throw new ModelFileError(`${path}: expected a .gguf file or a Hugging Face model folder`);
}

/** Load a model from a .gguf file or a Hugging Face folder (config, tokenizer and weight index; weights stay on disk). */
export function loadModel(path: string): LoadedModel {
  return modelFormatOf(path) === 'hf' ? loadHfModel(path) : loadGgufModel(path);
}

/** A model's description alone, from a Hugging Face folder's config.json or a GGUF header (no weights, no tokenizer). */
export function readModelConfig(path: string): DecoderConfig {
  return modelFormatOf(path) === 'hf' ? readHfConfig(path) : configFromGguf(readGguf(path));
}

/** A training run as the memory estimate sees it, with a LoRA adapter given by its config. */
export type TrainingShape = Omit<Parameters<typeof estimateTrainingMemory>[1], 'loraParams' | 'loraInputFeatures' | 'dropout'> & { lora?: LoraConfig };

/**
 * Peak-memory estimate of a training run on the model at `path` (train/memory.ts), reading only
 * its description (readModelConfig): a LoRA adapter's trained values and dropout masks follow from
 * its targets on that model.
 */
export function estimateTrainingMemoryForModel(path: string, run: TrainingShape): TrainingMemoryEstimate {
  const cfg = readModelConfig(path);
  const { lora, ...shape } = run;
  // a quantised base keeps a quantised GGUF's own block types (from its header)
  const rest =
    run.baseQuant && modelFormatOf(path) === 'gguf'
      ? { ...shape, storedBlockTypes: storedBlockTypes(readGguf(path).tensors.map((t) => [ggufToHfName(t.name), t.type] as const)) }
      : shape;
  if (!lora) return estimateTrainingMemory(cfg, rest);
  const targets = resolveLoraTargets(cfg, lora);
  return estimateTrainingMemory(cfg, {
    ...rest,
    loraParams: targets.reduce((s, t) => s + t.rank * (t.inFeatures + t.outFeatures), 0),
    loraInputFeatures: targets.reduce((s, t) => s + t.inFeatures, 0),
    dropout: (lora.dropout ?? 0) > 0,
  });
}

export interface OpenOptions extends Omit<RuntimeOptions, 'lora'> {
  /** a PEFT adapter folder to apply */
  lora?: string;
  /** 'merged' (default): fold B·A into the weights; 'unmerged': extra low-rank MatMuls in the graph */
  loraMode?: 'merged' | 'unmerged';
  /** 'auto' (default): the best usable provider (GPU if any, else CPU) */
  executionProvider?: 'auto' | string;
}

/** Build the inference sessions for a model (optionally with a LoRA adapter). */
export async function openModel(modelOrPath: LoadedModel | string, opts: OpenOptions = {}): Promise<DecoderRuntime> {
  let model = typeof modelOrPath === 'string' ? loadModel(modelOrPath) : modelOrPath;
  const { lora: _lora, loraMode: _mode, executionProvider: _ep, ...rest } = opts;
  const rtOpts: RuntimeOptions = { ...rest };
  const ep = opts.executionProvider ?? 'auto';
  const chosen = ep === 'auto' ? (await chooseExecutionProvider()).name : ep;
  rtOpts.executionProviders = chosen === 'cpu' ? ['cpu'] : [chosen, 'cpu'];
  if (opts.lora) {
    const adapter = loadLoraAdapter(opts.lora);
    if ((opts.loraMode ?? 'merged') === 'merged') model = mergeLora(model, adapter);
    else {
      checkAdapter(model, adapter);
      rtOpts.lora = adapter.modules;
    }
  }
  return DecoderRuntime.create(model, rtOpts);
}

/** Logits for every position ([B, S, V] row-major); rows are right-padded to the longest. */
export async function forwardLogits(rt: DecoderRuntime, ids: number[][], attentionMask?: number[][]) {
  return rt.forward(ids, attentionMask);
}

/** Render the model's chat template (tokenizer_config.json or GGUF tokenizer.chat_template). */
export function applyChatTemplate(model: LoadedModel, messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; template?: string } = {}): string {
  const tmpl = opts.template ?? model.chatTemplate;
  if (!tmpl) throw new Error(`${model.path}: the model has no chat template; pass one explicitly`);
  const tok = model.tokenizer;
  const bos = tok instanceof HfTokenizer ? tok.bosToken : tok.bosId !== null ? (tok.idToToken(tok.bosId) ?? '') : '';
  const eos = tok instanceof HfTokenizer ? tok.eosToken : tok.eosIds.length ? (tok.idToToken(tok.eosIds[0]!) ?? '') : '';
  return renderChatTemplate(tmpl, messages, { bosToken: bos, eosToken: eos, addGenerationPrompt: opts.addGenerationPrompt ?? true });
}

/**
 * Chat generation: render the model's chat template with a generation prompt, encode it without
 * adding BOS again (the template does that), and generate.
 */
export async function generateChat(rt: DecoderRuntime, messages: ChatMessage[], opts: GenerateOptions & { template?: string } = {}): Promise<GenerationResult> {
  const prompt = applyChatTemplate(rt.model, messages, { template: opts.template });
  const tok = rt.model.tokenizer;
  let ids = tok.encode(prompt, { addSpecial: false, parseSpecial: true });
  if (tok.addBos && tok.bosId !== null && ids[0] !== tok.bosId) ids = [tok.bosId, ...ids];
  return generateText(rt, ids, opts);
}

function mib(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** Human-readable model info (for `safetune model info`). */
export function formatModelInfo(info: ModelInfo): string {
  const p = info.parameterCount;
  const params = p >= 1e9 ? `${(p / 1e9).toFixed(2)}B` : p >= 1e6 ? `${(p / 1e6).toFixed(1)}M` : `${(p / 1e3).toFixed(1)}K`;
  const lines = [
    `name:              ${info.name}`,
    `path:              ${info.path} (${info.format})`,
    `architecture:      ${info.architecture}`,
    `parameters:        ${params} (${p.toLocaleString('en-US')})`,
    `stored as:         ${Object.entries(info.storageDtypes)
      .map(([k, v]) => `${k} x${v}`)
      .join(', ')}; computed in ${info.computeDtype}`,
    `context length:    ${info.contextLength}`,
    `layers/hidden:     ${info.layers} x ${info.hiddenSize}, heads ${info.heads} (kv ${info.kvHeads}), head dim ${info.headDim}`,
    `vocabulary:        ${info.vocabSize}${info.tiedEmbeddings ? ' (tied embeddings)' : ''}`,
    `chat template:     ${info.hasChatTemplate ? 'yes' : 'no'}`,
    `execution:         ${info.executionProvider.name}`,
    `memory (estimate): inference ${mib(info.memory.inferenceBytes)} (weights ${mib(info.memory.weightBytes)}, KV cache ${mib(info.memory.kvCacheBytesPerSequence)}/sequence at full context); LoRA training ${mib(info.memory.loraTrainingBytes)}`,
    `                   ${info.memory.assumptions}`,
  ];
  if (info.executionProvider.notice) lines.push(`notice:            ${info.executionProvider.notice}`);
  return lines.join('\n');
}
