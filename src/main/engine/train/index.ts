/**
 * SafeTune local LLM engine, part 2 (training): LoRA or full-parameter fine-tuning (and training from
 * scratch) on onnxruntime-node with a hand-built backward graph (../autodiff), AdamW in TypeScript,
 * atomic checkpoints and exact resume. Plain Node (no Electron); `session.run` blocks its thread, so
 * run training in a worker thread.
 *
 * ```ts
 * import { loadModel } from '../engine';
 * import { Trainer, tokenizeExample, TrainingDivergedError } from '../engine/train';
 *
 * const model = loadModel('/path/model.gguf' | '/path/hf-folder');
 * const data = rows.map((r) => tokenizeExample(model.tokenizer, { prompt: r.prompt, response: r.response }, { lossOn: 'response', maxLength: 512 }));
 * const opts = {
 *   lora: { rank: 8, alpha: 16, dropout: 0.05, targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
 *   lr: 2e-4, weightDecay: 0.01, schedule: { type: 'cosine', warmupSteps: 10 },
 *   maxSteps: 200, batchSize: 4, gradAccumSteps: 4, clipNorm: 1, seed: 1,
 *   checkpointDir: '/jobs/42/checkpoints', checkpointEvery: 25,
 *   terms: [],                                     // continual-learning terms, see below
 * };
 * const trainer = latestCheckpoint(opts.checkpointDir)
 *   ? await Trainer.resume(model, data, opts)      // exact continuation: params, AdamW moments, data cursor, RNG
 *   : await Trainer.create(model, data, opts);
 * try {
 *   const res = await trainer.train({
 *     onProgress: (m) => post({ step: m.step, loss: m.loss, lr: m.lr, gradNorm: m.gradNorm, tokPerS: m.tokensPerSecond }),
 *     shouldStop: () => Atomics.load(flag, 0) === 1, // checked before each optimiser step and between micro-batches (a partial step is dropped); a checkpoint is saved on stop
 *   });                                            // { steps, finished, stopped, losses, lastCheckpoint }
 *   trainer.exportAdapter('/jobs/42/adapter');     // PEFT adapter_config.json + adapter_model.safetensors (LoRA)
 * } catch (e) {
 *   if (e instanceof TrainingDivergedError) {} // NaN/inf loss: nothing applied; e.lastCheckpoint is still valid
 * } finally {
 *   await trainer.release();
 * }
 * ```
 *
 * Full-parameter training: `full` instead of `lora` (exactly one of the two). The model's weights
 * train as fp32 graph inputs (all of them, or groups: 'attention' (q/k/v/o and biases), 'mlp',
 * 'embeddings', 'norms', 'lm_head', one projection 'q'…'down', optionally only some `layers`); the
 * rest stay frozen exactly as in LoRA training (memory-mapped with weightCacheDir, fp16 with
 * frozenWeightDtype). A tied LM head is the embedding matrix: one parameter whose gradient sums both
 * uses. Checkpoints hold the trained weights (weights.safetensors) and both AdamW moments; resume is
 * bit-exact as for LoRA. Continual-learning terms work unchanged (EWC / L2-SP anchor to the weights
 * as loaded; estimateFisher takes the trained weight names).
 *
 * ```ts
 * const tr = await Trainer.create(model, data, { full: { trainable: ['all'] }, lr: 1e-4, weightDecay: 0.01, maxSteps, batchSize, ... });
 * await tr.train({ onProgress, shouldStop });
 * tr.exportModel('/jobs/42/model');               // HF folder: safetensors + config.json + tokenizer files
 * tr.exportModel('/jobs/42/model.gguf', { dtype: 'F16' }); // GGUF (llama / mistral without rope scaling or biases)
 * const rt = await openModel(tr.trainedModel());  // the trained model in the inference engine (no copy)
 * ```
 *
 * From scratch: `createModelFromConfig(llamaConfig({ vocabSize, hiddenSize, numLayers, numHeads,
 * intermediateSize, ... }), tokenizer, { seed, initializerRange: 0.02 })` (../model/init) gives a
 * randomly initialised model (Hugging Face Llama's init) with the caller's tokenizer (e.g.
 * loadModel(stories260K).tokenizer or HfTokenizer.fromFolder(dir)); train it with `full: {}`.
 *
 * - Loss: mean cross-entropy over the target tokens of the whole optimiser step (all accumulated
 *   micro-batches), so accumulation equals one big batch. Targets: response tokens (+EOS) by
 *   default (`tokenizeExample(..., { lossOn: 'all' })` for every token).
 * - Checkpoints: `<checkpointDir>/checkpoint-<step>/` = PEFT adapter (or weights.safetensors) + optimizer.safetensors +
 *   trainer_state.json, written to a temp folder, fsynced and renamed (a crash or full disk keeps the
 *   previous one). `latestCheckpoint(dir)` finds the newest.
 * - Continual-learning terms (`options.terms`, from ./continual; teacher logits and Fisher can be saved with
 *   `saveTeacherLogits` / `saveFisher` and reloaded): replay mixing (`mixReplay`,
 *   applied to the data), DER/DER++ (`derTerm`), LwF (`lwfTerm`) — one distillation term per run,
 *   it adds the top-k inputs to the graph — EWC (`ewcTerm` with `estimateFisher`), L2-SP (`l2spTerm`),
 *   A-GEM (`agemTerm`).
 * - Memory: `estimateTrainingMemory(cfg, { batch, seq, loraParams } | { batch, seq, full: { trainable }, gradAccumSteps })`
 *   (±25%; full-parameter training: 16 bytes per trained parameter — fp32 weight, gradient, AdamW m
 *   and v — plus 4 while a micro-batch's gradients are copied out of onnxruntime, plus 4 for the
 *   summed gradient with accumulation); `weightCacheDir`
 *   memory-maps the frozen weights from disk; forward activations dominate beyond small batches
 *   (`recompute: true` — activation checkpointing — keeps only each layer's input and recomputes the
 *   rest during the backward pass: 134M model at 4×256 tokens, peak RSS 2.2 GB instead of 3.8–4.5 GB
 *   for ~20% more CPU); `frozenWeightDtype: 'float16'` stores the frozen projection matrices in fp16
 *   (cast to fp32 where used; turns `recompute` on). With both, one LoRA step of a Llama-2-7B-shaped
 *   model (all 7 targets, r16, 1×512 tokens) peaked at 2.8 GB besides its 13 GB weight file on the
 *   CPU EP (`npm run bench:train-7b`). `baseQuant: 'Q4_0' | 'Q8_0' | 'Q4_K' | …` (LoRA only) quantises
 *   the frozen matrices on load and dequantises each where it is used (QLoRA-style: fp32 adapter and
 *   compute; turns `recompute` on); `BASE_QUANT_TYPES` maps the Train form's choices to those types.
 *   Measured: bench/RESULTS.md.
 */
export {
  Trainer,
  TrainingDivergedError,
  type TrainingMode,
  type TrainerOptions,
  type TrainRunOptions,
  type TrainResult,
  type StepMetrics,
  type TrainingTerm,
  type TermContext,
  type MicroBatch,
  type MicroResult,
  type DistillFeeds,
} from './trainer';
export { tokenizeExample, exampleLengths, makeBatch, targetTokens, type TrainExample, type PromptResponse, type TokenizeOptions, type Batch } from './data';
export { resolveLoraTargets, initLoraParams, loraScale, LoraConfigError, type LoraConfig, type LoraTarget, type LoraParams } from './lora';
export {
  resolveTrainableWeights,
  initFullParams,
  overlayWeights,
  trainableParameterCount,
  FullTrainingConfigError,
  TRAINABLE_GROUPS,
  type FullTrainingConfig,
  type TrainableGroup,
  type TrainableWeight,
  type FullParams,
} from './full';
export { AdamW, lrAt, clipGradNorm, globalNorm, type AdamWConfig, type AdamWState, type ScheduleConfig } from './optim';
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, listCheckpoints, type CheckpointData, type TrainerStateJson } from './checkpoint';
export { writePeftAdapter, readPeftAdapter } from '../hf/peftAdapter';
export { buildTrainGraph, type TrainGraphOptions, type TrainGraph, type DistillSpec } from './graph';
export { Rng, epochOrder } from './rng';
export * from './continual';
export { estimateTrainingMemory, type TrainingMemoryEstimate } from './memory';
export { BASE_QUANT_TYPES, quantizedFrozenWeights, storedBlockTypes, storedBlockTypesOf, type QuantizedFrozenWeights } from './baseQuant';
