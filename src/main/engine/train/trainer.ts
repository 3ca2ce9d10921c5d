/**
 * The trainer, for LoRA adapters or full-parameter training (every weight, or chosen groups):
 * batches → training graph (onnxruntime) → gradient accumulation → penalties / projections
 * (continual-learning terms) → clipping → AdamW, with atomic checkpoints and exact resume. See
 * index.ts for the API overview.
 */
import { createSession, defaultThreads, ort } from '../graph';
import type { LoadedModel } from '../model/loaded';
import { writePeftAdapter } from '../hf/peftAdapter';
import { CHECKPOINT_VERSION, latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainerStateJson } from './checkpoint';
import { makeBatch, type Batch, type TrainExample } from './data';
import { buildTrainGraph, type DistillSpec, type TrainGraph } from './graph';
import { recomputesActivations } from './memory';
import { initLoraParams, resolveLoraTargets, type LoraConfig, type LoraParams, type LoraTarget } from './lora';
import { initFullParams, overlayWeights, resolveTrainableWeights, type FullParams, type FullTrainingConfig, type TrainableWeight } from './full';
import { AdamW, clipGradNorm, lrAt, type ScheduleConfig } from './optim';
import { epochOrder, Rng } from './rng';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { WeightFileWriter } from '../model/weightFile';
import { QuantizingWeights, type LoadQuantType } from '../model/quantizeOnLoad';
import { exportModel, type ExportModelOptions, type ExportModelResult } from '../modelExport';

/** 'lora': an adapter on frozen weights; 'full': the model's own weights train */
export type TrainingMode = 'lora' | 'full';

export interface TrainerOptions {
  /** LoRA training: the adapter (give exactly one of `lora` and `full`) */
  lora?: LoraConfig;
  /**
   * Full-parameter training: the model's weights themselves train (all of them, or the groups in
   * `trainable`), as fp32 copies with their gradients and AdamW moments (16 bytes per trained
   * parameter); the other weights stay frozen as in LoRA training.
   */
  full?: FullTrainingConfig;
  /** peak learning rate */
  lr: number;
  weightDecay?: number;
  betas?: [number, number];
  adamEps?: number;
  /** learning-rate schedule (default cosine, no warm-up) */
  schedule?: Omit<ScheduleConfig, 'totalSteps'> & { totalSteps?: number };
  /** optimiser steps to run in total */
  maxSteps: number;
  /** examples per micro-batch */
  batchSize: number;
  /** micro-batches per optimiser step (default 1) */
  gradAccumSteps?: number;
  /** truncate examples to this many tokens */
  maxLength?: number;
  /** clip the global gradient norm to this (default 1; 0 = off) */
  clipNorm?: number;
  seed?: number;
  /** onnxruntime intra-op threads */
  threads?: number;
  executionProviders?: string[];
  /** checkpoint folder (checkpoint-<step> subfolders); none: no checkpoints */
  checkpointDir?: string;
  /** save every N optimiser steps (default: only at the end / on stop) */
  checkpointEvery?: number;
  /** checkpoints to keep (default 2) */
  keepCheckpoints?: number;
  /** continual-learning terms (see ./continual) */
  terms?: TrainingTerm[];
  /** top-k logit distillation inputs in the graph (needed by DER / LwF terms) */
  distill?: DistillSpec;
  /**
   * Stream the frozen weights to <weightCacheDir>/weights.bin (page-aligned) and let onnxruntime
   * memory-map them: peak memory ≈ one copy of the weights instead of two (the JS read and
   * onnxruntime's). The folder is reused on resume; delete it when the job is done.
   */
  weightCacheDir?: string;
  /**
   * Activation checkpointing: the backward pass recomputes each layer's activations from its input
   * (gradients verified). Measured on the 134M model at 4×256 tokens, 2 threads: peak RSS 2.2 GB
   * instead of 3.8–4.5 GB for ~20% more CPU per step (bench/RESULTS.md). Default off.
   */
  recompute?: boolean;
  /**
   * Storage of the frozen projection matrices (default 'float32'). 'float16' halves their memory
   * (each is cast to fp32 where it is used, so the model trains on fp16-rounded weights with fp32
   * compute) and turns on `recompute`, without which the casts would stay alive until the backward
   * pass. Meant for large models; measured in bench/RESULTS.md.
   */
  frozenWeightDtype?: 'float32' | 'float16';
  /**
   * LoRA on a quantised frozen base (QLoRA-style): the projection, embedding and LM-head matrices
   * are quantised on load to this ggml block type (those the source already holds block-quantised,
   * a quantised GGUF's, keep their own type; matrices whose rows are not whole blocks stay as they
   * are), kept as uint8 codes with their scales and dequantised to float32 where each is used; the
   * adapter and all compute stay fp32, so gradients are the dequantised model's. Turns on
   * `recompute`, without which every dequantised matrix would stay alive until the backward pass.
   * LoRA only: a full-parameter run's exported model would pair trained weights with unquantised
   * frozen ones. Measured in bench/RESULTS.md.
   */
  baseQuant?: LoadQuantType;
  /**
   * onnxruntime CPU memory arena. Default: on with recomputation, off without. With recomputation
   * every layer's backward step allocates the same sizes again, which the arena reuses; malloc
   * fragmented (7B-shaped layers at 1×512 tokens, 8 of them: 1.9 GB peak besides the weights with
   * the arena, 5.7 GB without, still growing with each layer). Without recomputation the arena's
   * growth raised the peak (134M model at 4×256 tokens: ~650 MB more, no speed gain).
   */
  memArena?: boolean;
  /** write an onnxruntime profile (JSON) with this file prefix (performance work) */
  profilePrefix?: string;
  /** onnxruntime weight pre-packing (default false: it holds a second copy of every weight) */
  prepack?: boolean;
  /**
   * Start from these values of the trainable tensors instead of the usual ones (LoRA: the PEFT
   * initialisation, e.g. a non-zero B in tests; full: the model's weights). Every trainable tensor
   * must be given.
   */
  initialParams?: { tensors: Map<string, Float32Array> };
}

/** Feeds for the distillation inputs of one micro-batch (DER buffer / LwF teacher). */
export interface DistillFeeds {
  /** [B,S,K] top-k token ids */
  idx: BigInt64Array;
  /** [B,S,K] teacher logits (mse) or log-probabilities (kl) */
  val: Float32Array;
  /** [B,S] per-position weight of the distillation term */
  weights: Float32Array;
}

export interface MicroBatch {
  batch: Batch;
  /** multiplies the per-token CE weights (default 1/targets-in-the-step for task batches) */
  ceWeight: Float32Array;
  distill?: DistillFeeds;
  /** evaluation: no LoRA dropout (and no RNG draws) */
  eval?: boolean;
}

export interface MicroResult {
  loss: number;
  ce: number;
  distill: number;
  grads: Map<string, Float32Array>;
}

/** What a continual-learning term sees each optimiser step. */
export interface TermContext {
  step: number;
  rng: Rng;
  mode: TrainingMode;
  /** the trainable tensors by graph input name: "<weight>.lora_A" / ".lora_B" (LoRA) or the weight names (full) */
  params: Map<string, Float32Array>;
  /** LoRA targets (empty in full-parameter training) */
  targets: LoraTarget[];
  /** a weight of the model as loaded, before training (what EWC and L2-SP anchor to); read from the model's source on each call */
  initialWeight(name: string): Float32Array;
  /** run a micro-batch through the training graph (forward + backward) */
  run(mb: MicroBatch): Promise<MicroResult>;
  /** the task micro-batches of this step (with their examples' indices into the task data) */
  taskBatches: { batch: Batch; examples: number[] }[];
}

/**
 * A term added to training: it may change the task micro-batches' distillation feeds, add loss and
 * gradients (penalties, replayed batches) or transform the total gradient (projections).
 */
export interface TrainingTerm {
  readonly name: string;
  /** the distillation inputs this term needs in the graph (DER, LwF); one spec per trainer */
  readonly distillSpec?: DistillSpec;
  /** distillation feeds for a task micro-batch (LwF), or undefined */
  distillFor?(ctx: TermContext, batch: Batch, examples: number[]): DistillFeeds | undefined;
  /** extra loss and gradients to add to the step (accumulated into `grads`); returns the loss added */
  addToStep?(ctx: TermContext, grads: Map<string, Float32Array>): Promise<number>;
  /** transform the final gradient in place (A-GEM) */
  transformGradient?(ctx: TermContext, grads: Map<string, Float32Array>): Promise<void>;
  /**
   * True: optimiser step `step` (0-based) trains on the term's own data only (Lisa's alignment
   * phase): no task examples are drawn (the data cursor stays), the step's gradient starts at zero
   * and addToStep gives all of it.
   */
  ownsStep?(step: number): boolean;
  /** JSON-serialisable state for checkpoints */
  saveState?(): unknown;
  loadState?(s: unknown): void;
}

export interface StepMetrics {
  step: number;
  maxSteps: number;
  epoch: number;
  /** total loss of the step (task CE + terms) */
  loss: number;
  /** task cross-entropy (mean over target tokens) */
  taskLoss: number;
  /** loss added by each term */
  terms: Record<string, number>;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSecond: number;
  elapsedMs: number;
}

export interface TrainRunOptions {
  onProgress?: (m: StepMetrics) => void;
  /** checked before every optimiser step and between its micro-batches; true stops (a partial step is dropped) after saving a checkpoint */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  steps: number;
  finished: boolean;
  stopped: boolean;
  losses: number[];
  lastCheckpoint: string | null;
}

export class TrainingDivergedError extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

/** The options that determine the training trajectory (what a resume must match, maxSteps aside). */
function optionsFingerprint(o: TrainerOptions): unknown {
  const {
    terms: _t,
    initialParams: _p,
    checkpointDir: _c,
    threads: _th,
    executionProviders: _ep,
    prepack: _pp,
    weightCacheDir: _wc,
    profilePrefix: _pr,
    memArena: _ma,
    recompute: _rc,
    checkpointEvery: _ce,
    keepCheckpoints: _k,
    ...rest
  } = o;
  return { ...rest, terms: (o.terms ?? []).map((t) => t.name) };
}

/** Identity of the training data (order, ids and loss masks): a resume must see the same data. */
export function dataFingerprint(data: TrainExample[]): string {
  const h = createHash('sha256');
  for (const e of data) {
    h.update(Int32Array.from(e.ids));
    h.update(e.lossMask ? Uint8Array.from(e.lossMask) : Uint8Array.of(255));
    h.update('|');
  }
  return `${data.length}:${h.digest('hex').slice(0, 16)}`;
}

/** JSON with sorted object keys */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export class Trainer {
  readonly mode: TrainingMode;
  /** LoRA targets (empty in full-parameter training) */
  readonly targets: LoraTarget[];
  /** trained weights of full-parameter training (empty with LoRA) */
  readonly trainable: TrainableWeight[];
  params!: LoraParams | FullParams;
  readonly optimizer: AdamW;
  readonly rng: Rng;
  step = 0;
  epoch = 0;
  cursor = 0;
  losses: number[] = [];
  tokensSeen = 0;
  lastCheckpoint: string | null = null;
  private savedStep = -1;
  /** trainable inputs and dropout inputs of the graph (the graph itself is dropped once the session exists) */
  private tg!: Omit<TrainGraph, 'graph'>;
  private session!: ort.InferenceSession;

  private constructor(
    readonly model: LoadedModel,
    readonly data: TrainExample[],
    readonly options: TrainerOptions,
  ) {
    if (data.length === 0) throw new Error('Trainer: no training examples');
    if (!(options.batchSize >= 1)) throw new Error('Trainer: batchSize must be at least 1');
    if (!(options.maxSteps >= 1)) throw new Error('Trainer: maxSteps must be at least 1');
    if (options.gradAccumSteps !== undefined && !(Number.isInteger(options.gradAccumSteps) && options.gradAccumSteps >= 1))
      throw new Error(`Trainer: gradAccumSteps must be a positive integer, got ${options.gradAccumSteps}`);
    if (!options.lora === !options.full) throw new Error('Trainer: give exactly one of `lora` (an adapter) and `full` (full-parameter training)');
    if (options.baseQuant && options.full) throw new Error('Trainer: a quantised base (baseQuant) trains a LoRA adapter, not full-parameter training');
    this.mode = options.full ? 'full' : 'lora';
    this.targets = options.lora ? resolveLoraTargets(model.config, options.lora) : [];
    this.trainable = options.full ? resolveTrainableWeights(model.config, options.full) : [];
    this.optimizer = new AdamW({ lr: options.lr, betas: options.betas, eps: options.adamEps, weightDecay: options.weightDecay });
    this.rng = new Rng(options.seed ?? 0);
  }

  /** A new run (fresh adapter, or the model's weights as they are for full-parameter training). */
  static async create(model: LoadedModel, data: TrainExample[], options: TrainerOptions): Promise<Trainer> {
    const t = new Trainer(model, data, options);
    const initRng = new Rng(((options.seed ?? 0) ^ 0x5eed) >>> 0);
    const names = t.mode === 'lora' ? t.targets.flatMap((x) => [`${x.weight}.lora_A`, `${x.weight}.lora_B`]) : t.trainable.map((w) => w.name);
    if (options.initialParams) {
      for (const n of names) if (!options.initialParams.tensors.has(n)) throw new Error(`Trainer: initialParams has no ${n}`);
      const tensors = new Map(names.map((n) => [n, Float32Array.from(options.initialParams!.tensors.get(n)!)]));
      t.params = t.mode === 'lora' ? { targets: t.targets, tensors } : { weights: t.trainable, tensors };
    } else t.params = t.mode === 'lora' ? initLoraParams(t.targets, initRng) : initFullParams(t.trainable, model.weights);
    await t.open();
    return t;
  }

  /**
   * Resume from the newest checkpoint in `options.checkpointDir` (or an explicit checkpoint folder).
   * The options must match the ones the run was started with (maxSteps may grow).
   */
  static async resume(model: LoadedModel, data: TrainExample[], options: TrainerOptions, checkpoint?: string): Promise<Trainer> {
    const dir = checkpoint ?? (options.checkpointDir ? latestCheckpoint(options.checkpointDir) : null);
    if (!dir) throw new Error(`no checkpoint to resume from in ${options.checkpointDir ?? '(no checkpointDir)'}`);
    const t = new Trainer(model, data, options);
    const ck = loadCheckpoint(dir, t.mode === 'lora' ? t.targets : t.trainable);
    const want = canonical({ ...(optionsFingerprint(options) as object), maxSteps: 0 });
    const got = canonical({ ...(ck.state.options as object), maxSteps: 0 });
    if (want !== got) throw new Error(`${dir}: the checkpoint was made with different training options:\n  checkpoint ${got}\n  now        ${want}`);
    const fp = dataFingerprint(data);
    if (ck.state.extra?.['data'] !== undefined && ck.state.extra['data'] !== fp)
      throw new Error(
        `${dir}: the checkpoint was made with different training data (${String(ck.state.extra['data'])}, now ${fp}); resume needs the same examples in the same order`,
      );
    t.params = ck.params;
    t.optimizer.state = ck.optimizer;
    t.step = ck.state.step;
    t.epoch = ck.state.epoch;
    t.cursor = ck.state.cursor;
    t.rng.state = ck.state.rngState;
    t.losses = ck.state.losses.slice();
    t.tokensSeen = ck.state.tokensSeen;
    t.lastCheckpoint = dir;
    t.savedStep = t.step;
    for (const term of options.terms ?? []) if (term.loadState && ck.state.extra?.[term.name] !== undefined) term.loadState(ck.state.extra[term.name]);
    await t.open();
    return t;
  }

  /** the graph's distillation spec: options.distill or the one the terms need */
  private get distill(): DistillSpec | undefined {
    const specs = (this.options.terms ?? []).filter((t) => t.distillSpec).map((t) => ({ name: t.name, spec: t.distillSpec! }));
    if (this.options.distill) specs.unshift({ name: 'options.distill', spec: this.options.distill });
    for (const s of specs.slice(1))
      if (s.spec.k !== specs[0]!.spec.k || s.spec.mode !== specs[0]!.spec.mode)
        throw new Error(
          `${specs[0]!.name} and ${s.name} need different distillation inputs (${JSON.stringify(specs[0]!.spec)} vs ${JSON.stringify(s.spec)}); use one distillation term per run`,
        );
    return specs[0]?.spec;
  }

  private async open(): Promise<void> {
    const dir = this.options.weightCacheDir;
    let writer: WeightFileWriter | null = null;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writer = new WeightFileWriter(dir);
    }
    let tg: TrainGraph;
    const recompute = recomputesActivations(this.options);
    try {
      const trained = new Set(this.trainable.map((w) => w.name));
      const q = this.options.baseQuant;
      tg = buildTrainGraph(this.model.config, q ? new QuantizingWeights(this.model.weights, q) : this.model.weights, {
        lora: this.targets,
        trainWeights: trained.size ? (n) => trained.has(n) : undefined,
        dropout: (this.options.lora?.dropout ?? 0) > 0,
        distill: this.distill,
        storeWeight: writer?.store,
        recompute,
        weightDtype: this.options.frozenWeightDtype,
        quant: q ? { accuracyLevel: 0 } : undefined,
      });
    } finally {
      writer?.close();
    }
    this.tg = { params: tg.params, dropoutInputs: tg.dropoutInputs };
    this.session = await createSession(tg.graph.build(), {
      saveDir: dir,
      profilePrefix: this.options.profilePrefix,
      memArena: this.options.memArena ?? recompute,
      intraOpThreads: this.options.threads ?? defaultThreads(),
      executionProviders: this.options.executionProviders,
      // pre-packing keeps a second, packed copy of every frozen weight matrix
      extra: this.options.prepack ? {} : { 'session.disable_prepacking': '1' },
    });
  }

  async release(): Promise<void> {
    await this.session?.release();
  }

  /** Next `n` task examples from the data cursor (epochs reshuffle deterministically). */
  private takeExamples(n: number): number[] {
    const out: number[] = [];
    while (out.length < n) {
      const order = epochOrder(this.data.length, this.options.seed ?? 0, this.epoch);
      out.push(order[this.cursor]!);
      this.cursor++;
      if (this.cursor >= this.data.length) {
        this.cursor = 0;
        this.epoch++;
      }
    }
    return out;
  }

  /** Forward + backward of one micro-batch; gradients are of Σ weighted CE + Σ weighted distillation. */
  async runMicro(mb: MicroBatch): Promise<MicroResult> {
    const b = mb.batch;
    const dims = [b.batch, b.seq];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', b.inputIds, dims),
      attention_mask: new ort.Tensor('int64', b.attentionMask, dims),
      position_ids: new ort.Tensor('int64', b.positionIds, dims),
      labels: new ort.Tensor('int64', b.labels, dims),
      label_weights: new ort.Tensor('float32', mb.ceWeight, dims),
    };
    for (const t of this.targets) {
      feeds[`${t.weight}.lora_A`] = new ort.Tensor('float32', this.params.tensors.get(`${t.weight}.lora_A`)!, [t.rank, t.inFeatures]);
      feeds[`${t.weight}.lora_B`] = new ort.Tensor('float32', this.params.tensors.get(`${t.weight}.lora_B`)!, [t.outFeatures, t.rank]);
    }
    for (const w of this.trainable) feeds[w.name] = new ort.Tensor('float32', this.params.tensors.get(w.name)!, w.shape);
    const p = this.options.lora?.dropout ?? 0;
    if (this.tg.dropoutInputs.size) feeds['lora_drop_scale'] = new ort.Tensor('float32', new Float32Array([mb.eval ? 1 : 1 / (1 - p)]), []);
    for (const [w, input] of this.tg.dropoutInputs) {
      const t = this.targets.find((x) => x.weight === w)!;
      const keep = new Uint8Array(b.batch * b.seq * t.inFeatures);
      if (mb.eval) keep.fill(1);
      else for (let i = 0; i < keep.length; i++) keep[i] = this.rng.next() < p ? 0 : 1;
      feeds[input] = new ort.Tensor('bool', keep, [b.batch, b.seq, t.inFeatures]);
    }
    const spec = this.distill;
    if (spec) {
      const K = spec.k;
      const d = mb.distill ?? {
        idx: new BigInt64Array(b.batch * b.seq * K),
        val: new Float32Array(b.batch * b.seq * K),
        weights: new Float32Array(b.batch * b.seq),
      };
      feeds['distill_idx'] = new ort.Tensor('int64', d.idx, [b.batch, b.seq, K]);
      feeds['distill_val'] = new ort.Tensor('float32', d.val, [b.batch, b.seq, K]);
      feeds['distill_weights'] = new ort.Tensor('float32', d.weights, dims);
    } else if (mb.distill) throw new Error('Trainer: distillation feeds given but no term or option declared a distillation spec');
    const out = await this.session.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const name of this.tg.params) grads.set(name, out[`grad.${name}`]!.data as Float32Array);
    return {
      loss: Number(out['loss']!.data[0]),
      ce: Number(out['ce']!.data[0]),
      distill: out['distill'] ? Number(out['distill'].data[0]) : 0,
      grads,
    };
  }

  /** Run until maxSteps (or shouldStop). Saves a checkpoint every checkpointEvery steps and at the end. */
  async train(run: TrainRunOptions = {}): Promise<TrainResult> {
    const o = this.options;
    const accum = o.gradAccumSteps ?? 1;
    const sched: ScheduleConfig = {
      type: o.schedule?.type ?? 'cosine',
      warmupSteps: o.schedule?.warmupSteps,
      minLrRatio: o.schedule?.minLrRatio,
      totalSteps: o.schedule?.totalSteps ?? o.maxSteps,
    };
    const terms = o.terms ?? [];
    const t0 = Date.now();
    let tokensThisRun = 0;
    let stopped = false;
    while (this.step < o.maxSteps) {
      if (run.shouldStop?.()) {
        stopped = true;
        break;
      }
      // ---- the step's task micro-batches; CE weights normalised over all target tokens of the step
      // where this step starts: restored when a stop request interrupts it between micro-batches
      const snapshot = { epoch: this.epoch, cursor: this.cursor, rng: this.rng.state };
      const taskBatches: { batch: Batch; examples: number[] }[] = [];
      const owned = terms.some((t) => t.ownsStep?.(this.step));
      for (let k = 0; k < (owned ? 0 : accum); k++) {
        const ex = this.takeExamples(o.batchSize);
        taskBatches.push({
          batch: makeBatch(
            ex.map((i) => this.data[i]!),
            { maxLength: o.maxLength },
          ),
          examples: ex,
        });
      }
      const tokens = taskBatches.reduce((s, b) => s + b.batch.tokens, 0);
      const ctx: TermContext = {
        step: this.step,
        rng: this.rng,
        mode: this.mode,
        params: this.params.tensors,
        targets: this.targets,
        initialWeight: (name) => this.model.weights.f32(name),
        run: (mb) => this.runMicro(mb),
        taskBatches,
      };
      // the step's gradient: the first micro-batch's gradient arrays, the others added into them
      // (one copy of the gradients is held, not an accumulator besides each micro-batch's output)
      let grads: Map<string, Float32Array> | null = owned ? new Map([...this.params.tensors].map(([k, v]) => [k, new Float32Array(v.length)])) : null;
      let taskLoss = 0;
      let interrupted = false;
      let loss = 0;
      const termLoss: Record<string, number> = {};
      for (const tb of taskBatches) {
        const w = tb.batch.labelMask.map((m) => (tokens ? m / tokens : 0));
        let distill: DistillFeeds | undefined;
        for (const term of terms) {
          const d = term.distillFor?.(ctx, tb.batch, tb.examples);
          if (d) {
            if (distill) throw new Error(`two terms give distillation feeds for the same batch (${term.name})`);
            distill = d;
          }
        }
        const r = await this.runMicro({ batch: tb.batch, ceWeight: w, distill });
        taskLoss += r.ce;
        loss += r.loss;
        if (distill) {
          const name = terms.find((t) => t.distillFor)!.name;
          termLoss[name] = (termLoss[name] ?? 0) + r.distill;
        }
        if (grads) addInto(grads, r.grads);
        else grads = r.grads;
        if (tb !== taskBatches[taskBatches.length - 1] && run.shouldStop?.()) {
          interrupted = true;
          break;
        }
      }
      if (interrupted || !grads) {
        // drop the partial step: the checkpoint then resumes exactly at its start (grads is only
        // unset when no micro-batch ran, which the accumulation check rules out)
        this.epoch = snapshot.epoch;
        this.cursor = snapshot.cursor;
        this.rng.state = snapshot.rng;
        stopped = true;
        break;
      }
      for (const term of terms) {
        if (!term.addToStep) continue;
        const l = await term.addToStep(ctx, grads);
        termLoss[term.name] = (termLoss[term.name] ?? 0) + l;
        loss += l;
      }
      if (!Number.isFinite(loss) || [...grads.values()].some((g) => !allFinite(g))) {
        // nothing of this step is applied; the trainer stays at the step's start
        this.epoch = snapshot.epoch;
        this.cursor = snapshot.cursor;
        this.rng.state = snapshot.rng;
        throw new TrainingDivergedError(
          `training diverged at step ${this.step + 1}: loss is ${loss} (${!Number.isFinite(loss) ? 'not finite' : 'gradients not finite'}); ` +
            (this.lastCheckpoint ? `the last good checkpoint is ${this.lastCheckpoint}` : 'no checkpoint was saved yet') +
            '. Lower the learning rate or check the data.',
          this.step + 1,
          this.lastCheckpoint,
        );
      }
      for (const term of terms) if (term.transformGradient) await term.transformGradient(ctx, grads);
      const gradNorm = clipGradNorm(grads.values(), o.clipNorm ?? 1);
      const lr = lrAt(o.lr, this.step, sched);
      this.optimizer.step(this.params.tensors, grads, lr);
      this.step++;
      this.losses.push(loss);
      this.tokensSeen += tokens;
      tokensThisRun += taskBatches.reduce((s, b) => s + b.batch.attentionMask.reduce((a, m) => a + Number(m), 0), 0);
      const elapsedMs = Date.now() - t0;
      run.onProgress?.({
        step: this.step,
        maxSteps: o.maxSteps,
        epoch: this.epoch,
        loss,
        taskLoss,
        terms: termLoss,
        lr,
        gradNorm,
        tokens,
        tokensPerSecond: elapsedMs > 0 ? (tokensThisRun * 1000) / elapsedMs : 0,
        elapsedMs,
      });
      if (o.checkpointDir && o.checkpointEvery && this.step % o.checkpointEvery === 0 && this.step < o.maxSteps) this.saveCheckpoint();
    }
    if (o.checkpointDir && this.savedStep !== this.step) this.saveCheckpoint();
    return { steps: this.step, finished: this.step >= o.maxSteps, stopped, losses: this.losses.slice(), lastCheckpoint: this.lastCheckpoint };
  }

  /** Write a checkpoint now (atomic); returns its folder. */
  saveCheckpoint(): string {
    const o = this.options;
    if (!o.checkpointDir) throw new Error('Trainer: no checkpointDir');
    const extra: Record<string, unknown> = { data: dataFingerprint(this.data) };
    for (const t of o.terms ?? []) if (t.saveState) extra[t.name] = t.saveState();
    const state: TrainerStateJson = {
      version: CHECKPOINT_VERSION,
      step: this.step,
      epoch: this.epoch,
      cursor: this.cursor,
      rngState: this.rng.state,
      losses: this.losses,
      tokensSeen: this.tokensSeen,
      options: optionsFingerprint(o),
      model: { path: this.model.path, config: this.model.config },
      extra,
      savedAt: new Date().toISOString(),
    };
    this.lastCheckpoint = saveCheckpoint(o.checkpointDir, { state, params: this.params, optimizer: this.optimizer.state }, o.lora ?? null, {
      keep: o.keepCheckpoints,
      baseModel: this.model.path,
    });
    this.savedStep = this.step;
    return this.lastCheckpoint;
  }

  /** The trained adapter (its live tensors: do not modify them). LoRA training only. */
  adapter(): LoraParams {
    if (!('targets' in this.params)) throw new Error('Trainer: full-parameter training has no adapter; use trainedModel');
    return this.params;
  }

  /**
   * Export the current adapter in PEFT format (loadable by openModel(..., { lora: dir })), or
   * `params` — the same targets with changed tensors (SafeLoRA's projection) — in its place. LoRA training only.
   */
  exportAdapter(dir: string, params?: LoraParams): void {
    if (!this.options.lora || !('targets' in this.params)) throw new Error('Trainer: full-parameter training has no adapter to export; use exportModel');
    if (params && params.targets !== this.params.targets) throw new Error('Trainer: the adapter to export must have the trained adapter’s targets');
    mkdirSync(dir, { recursive: true });
    writePeftAdapter(dir, params ?? this.params, this.options.lora, { baseModel: this.model.path });
  }

  /**
   * The model with the trained weights (full-parameter training): the loaded model whose weight
   * source hands out the trained tensors (not copies: do not modify them) and the original values of
   * the frozen ones. Usable with openModel, exportGguf and buildTrainGraph.
   */
  trainedModel(): LoadedModel {
    if (this.mode !== 'full')
      throw new Error(
        'Trainer: trainedModel() is for full-parameter training; a LoRA run exports its adapter (exportAdapter) or a merged model (exportMergedModel)',
      );
    return { ...this.model, weights: overlayWeights(this.model.weights, this.params.tensors) };
  }

  /**
   * Write the trained model (full-parameter training) as a Hugging Face folder or a GGUF file
   * (see exportModel): atomic, never overwrites.
   */
  exportModel(outPath: string, opts: ExportModelOptions = {}): ExportModelResult {
    return exportModel(this.trainedModel(), outPath, opts);
  }

  /** Mean task loss of examples with the current adapter or trained weights (no update). */
  async evaluate(examples: TrainExample[], batchSize = this.options.batchSize): Promise<number> {
    let sum = 0;
    let tokens = 0;
    for (let i = 0; i < examples.length; i += batchSize) {
      const batch = makeBatch(examples.slice(i, i + batchSize), { maxLength: this.options.maxLength });
      const r = await this.runMicro({ batch, ceWeight: batch.labelMask, eval: true });
      sum += r.ce;
      tokens += batch.tokens;
    }
    return tokens ? sum / tokens : 0;
  }
}

function addInto(acc: Map<string, Float32Array>, g: Map<string, Float32Array>): void {
  for (const [k, v] of g) {
    const a = acc.get(k)!;
    for (let i = 0; i < a.length; i++) a[i]! += v[i]!;
  }
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}
