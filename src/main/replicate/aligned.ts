/**
 * Build the miniature's aligned model with the project's engine: a byte-level BPE tokenizer trained
 * on the recipe's text, a small Llama initialised from a config, trained from scratch (every weight)
 * to comply with benign instructions and refuse harmful ones, exported as a Hugging Face folder
 * (model.safetensors, config.json, tokenizer.json, tokenizer_config.json with the chat template).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyChatTemplate } from '../engine';
import { HfTokenizer } from '../engine/hf/tokenizer';
import type { LoadedModel } from '../engine/model/loaded';
import { createModelFromConfig, llamaConfig } from '../engine/model/init';
import { Trainer, tokenizeExample, type StepMetrics, type TrainExample } from '../engine/train';
import { mulberry32 } from '../util/prng';
import { CHAT_TEMPLATE, trainBpe, writeBpeTokenizer } from './bpe';
import { formVariant } from './forms';
import type { Pair, ReplicationData } from './data';
import type { AlignedConfig } from './recipe';

/** The text of one exchange as the chat template renders it, without BOS/EOS (the tokenizer's training text). */
export function exchangeText(p: Pair): string {
  return `### Instruction:\n${p.prompt}\n\n### Response:\n${p.response}`;
}

/** A training example: the user message through the model's chat template, loss on the reply (+ EOS). */
export function chatExample(model: LoadedModel, p: Pair, maxLength: number): TrainExample {
  const prompt = applyChatTemplate(model, [{ role: 'user', content: p.prompt }]);
  return tokenizeExample(model.tokenizer, { prompt, response: p.response }, { addBos: false, maxLength });
}

/**
 * The alignment data: every harmful pair (`harmfulRepeat` times), the first `benign` benign pairs
 * and the first `taskPrior` task-prior pairs; each harmful and benign pair as written and in
 * `formVariants` rewritten forms (./forms, drawn with a generator seeded by `seed`), so that harmful
 * and benign instructions share their forms.
 */
export function alignmentPairs(data: ReplicationData, cfg: Pick<AlignedConfig, 'benign' | 'harmfulRepeat' | 'formVariants' | 'taskPrior' | 'seed'>): Pair[] {
  if (cfg.benign > data.alignBenign.length)
    throw new Error(`the alignment data has ${data.alignBenign.length} benign pairs; the recipe asks for ${cfg.benign}`);
  if (cfg.taskPrior > data.alignTask.length)
    throw new Error(`the alignment data has ${data.alignTask.length} task-prior pairs; the recipe asks for ${cfg.taskPrior}`);
  const rng = mulberry32(cfg.seed);
  const withForms = (p: Pair): Pair[] => [p, ...Array.from({ length: cfg.formVariants }, () => ({ prompt: formVariant(p.prompt, rng), response: p.response }))];
  const harmful = Array.from({ length: cfg.harmfulRepeat }, () => data.alignHarmful.flatMap(withForms)).flat();
  return [...harmful, ...data.alignBenign.slice(0, cfg.benign).flatMap(withForms), ...data.alignTask.slice(0, cfg.taskPrior)];
}

/** Train the tokenizer on the alignment (the pairs used), pool and task text and write it (with the chat template) into `dir`. */
export function buildTokenizer(dir: string, texts: Pair[], vocabSize: number, maxLength: number): HfTokenizer {
  writeBpeTokenizer(dir, trainBpe(texts.map(exchangeText), vocabSize), { maxLength });
  return HfTokenizer.fromFolder(dir);
}

export interface BuildAlignedOptions {
  data: ReplicationData;
  /** task pairs (their text trains the tokenizer too, as a user's domain would) */
  task: Pair[];
  config: AlignedConfig;
  /** the Hugging Face folder to write (must not exist) */
  outDir: string;
  threads?: number;
  onProgress?: (m: StepMetrics) => void;
  shouldStop?: () => boolean;
}

export interface BuildAlignedResult {
  modelDir: string;
  examples: number;
  tokens: number;
  losses: number[];
  parameters: number;
}

/** Tokenizer, model from scratch, alignment training, export. */
export async function buildAligned(o: BuildAlignedOptions): Promise<BuildAlignedResult> {
  const c = o.config;
  const tokDir = mkdtempSync(join(tmpdir(), 'safetune-replicate-tokenizer-'));
  try {
    const tok = buildTokenizer(
      tokDir,
      [...o.data.alignHarmful, ...o.data.alignBenign.slice(0, c.benign), ...o.data.alignTask.slice(0, c.taskPrior), ...o.data.pool, ...o.task],
      c.vocabSize,
      c.maxPositions,
    );
    const cfg = llamaConfig({
      vocabSize: c.vocabSize,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      intermediateSize: c.intermediateSize,
      maxPositions: c.maxPositions,
      tieWordEmbeddings: true,
      bosTokenId: tok.bosId,
      eosTokenIds: [...tok.eosIds],
    });
    const model = createModelFromConfig(cfg, tok, { seed: c.seed, chatTemplate: CHAT_TEMPLATE, name: 'safetune-replicate-aligned', padTokenId: tok.padId });
    const examples = alignmentPairs(o.data, c).map((p) => chatExample(model, p, c.maxLength));
    const tr = await Trainer.create(model, examples, {
      full: {},
      lr: c.lr,
      weightDecay: c.weightDecay,
      schedule: { type: 'cosine', warmupSteps: c.warmupSteps, minLrRatio: 0.1 },
      maxSteps: c.steps,
      batchSize: c.batchSize,
      maxLength: c.maxLength,
      seed: c.seed,
      threads: o.threads ?? 2,
    });
    try {
      const res = await tr.train({ onProgress: o.onProgress, shouldStop: o.shouldStop });
      if (!res.finished) throw new Error('building the aligned model was stopped before its last step');
      tr.exportModel(o.outDir);
      const parameters = tr.trainable.reduce((s, w) => s + w.size, 0);
      return { modelDir: o.outDir, examples: examples.length, tokens: examples.reduce((s, e) => s + e.ids.length, 0), losses: res.losses, parameters };
    } finally {
      await tr.release();
    }
  } finally {
    rmSync(tokDir, { recursive: true, force: true });
  }
}
