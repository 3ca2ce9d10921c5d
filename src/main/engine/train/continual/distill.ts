/**
 * Logit distillation terms: DER / DER++ (a buffer of safety examples with the aligned model's
 * logits) and LwF (the aligned model's outputs on the user's own data). Teacher logits are recorded
 * once with the inference engine (`forwardLogits`) and stored compactly: per position the top-k
 * logits, their token ids and the log-sum-exp of the full row.
 */
import { SafetensorsFile, writeSafetensors } from '../../hf/safetensors';
import type { DecoderRuntime } from '../../model/runtime';
import { writeFileDurable } from '../fsutil';
import { makeBatch, type Batch, type TrainExample } from '../data';
import type { DistillSpec } from '../graph';
import type { DistillFeeds, TermContext, TrainingTerm } from '../trainer';

/** Top-k logits of every position of one example. */
export interface TeacherLogits {
  k: number;
  /** positions recorded (= example length) */
  length: number;
  /** [length, k] token ids, best first */
  idx: Int32Array;
  /** [length, k] logits */
  val: Float32Array;
  /** [length] log-sum-exp over the whole vocabulary */
  lse: Float32Array;
}

/** Top-k of one logit row (ties: lower id first) and its log-sum-exp. */
export function topKWithLse(row: ArrayLike<number>, k: number): { idx: number[]; val: number[]; lse: number } {
  const V = row.length;
  if (k < 1 || k > V) throw new Error(`topK: k ${k} out of range for ${V} logits`);
  const idx: number[] = [];
  const val: number[] = [];
  let mx = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = row[v]!;
    if (x > mx) mx = x;
    let p: number;
    if (idx.length < k) {
      idx.push(v);
      val.push(x);
      p = idx.length - 1;
    } else if (x > val[k - 1]!) p = k - 1;
    else continue;
    while (p > 0 && val[p - 1]! < x) {
      idx[p] = idx[p - 1]!;
      val[p] = val[p - 1]!;
      p--;
    }
    idx[p] = v;
    val[p] = x;
  }
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(row[v]! - mx);
  return { idx, val, lse: mx + Math.log(s) };
}

/** Record the teacher's (the aligned model's) top-k logits for examples, with the inference engine. */
export async function recordTeacherLogits(
  rt: DecoderRuntime,
  examples: TrainExample[],
  k: number,
  opts: { batchSize?: number } = {},
): Promise<TeacherLogits[]> {
  const out: TeacherLogits[] = [];
  const bs = opts.batchSize ?? 8;
  for (let i = 0; i < examples.length; i += bs) {
    const rows = examples.slice(i, i + bs).map((e) => e.ids);
    const { logits, dims } = await rt.forward(rows);
    const [, S, V] = dims;
    rows.forEach((ids, b) => {
      const n = ids.length;
      const t: TeacherLogits = { k, length: n, idx: new Int32Array(n * k), val: new Float32Array(n * k), lse: new Float32Array(n) };
      for (let p = 0; p < n; p++) {
        const r = topKWithLse(logits.subarray((b * S + p) * V, (b * S + p + 1) * V), k);
        t.idx.set(r.idx, p * k);
        t.val.set(r.val, p * k);
        t.lse[p] = r.lse;
      }
      out.push(t);
    });
  }
  return out;
}

/**
 * Save teacher records to one safetensors file (so a job records them once and survives restarts).
 * Token ids are stored as F32 (exact below 2^24).
 */
export function saveTeacherLogits(path: string, records: TeacherLogits[]): void {
  if (records.length === 0) throw new Error('saveTeacherLogits: no records');
  const k = records[0]!.k;
  if (records.some((r) => r.k !== k)) throw new Error('saveTeacherLogits: records have different k');
  const total = records.reduce((s, r) => s + r.length, 0);
  const idx = new Float32Array(total * k);
  const val = new Float32Array(total * k);
  const lse = new Float32Array(total);
  let o = 0;
  for (const r of records) {
    for (let i = 0; i < r.idx.length; i++) {
      if (r.idx[i]! >= 2 ** 24) throw new Error('saveTeacherLogits: token id too large for exact F32 storage');
      idx[o * k + i] = r.idx[i]!;
    }
    val.set(r.val, o * k);
    lse.set(r.lse, o);
    o += r.length;
  }
  writeSafetensors(
    path,
    [
      { name: 'lengths', shape: [records.length], dtype: 'F32', data: () => Float32Array.from(records.map((r) => r.length)) },
      { name: 'idx', shape: [total, k], dtype: 'F32', data: () => idx },
      { name: 'val', shape: [total, k], dtype: 'F32', data: () => val },
      { name: 'lse', shape: [total], dtype: 'F32', data: () => lse },
    ],
    { format: 'safetune-teacher-logits', k: String(k) },
  );
  writeFileDurable(path, null);
}

export function loadTeacherLogits(path: string): TeacherLogits[] {
  const f = new SafetensorsFile(path);
  if (f.metadata['format'] !== 'safetune-teacher-logits') throw new Error(`${path}: not a teacher-logits file`);
  const k = Number(f.metadata['k']);
  const lengths = f.readF32('lengths');
  const idx = f.readF32('idx');
  const val = f.readF32('val');
  const lse = f.readF32('lse');
  const out: TeacherLogits[] = [];
  let o = 0;
  for (const n of lengths) {
    out.push({ k, length: n, idx: Int32Array.from(idx.subarray(o * k, (o + n) * k)), val: val.slice(o * k, (o + n) * k), lse: lse.slice(o, o + n) });
    o += n;
  }
  return out;
}

/**
 * Distillation feeds for a batch: per row the teacher record, per position weight `w(b, t)`.
 * mode 'mse' feeds logits; 'kl' feeds log-probabilities (logit − lse).
 */
export function distillFeeds(batch: Batch, teachers: TeacherLogits[], spec: DistillSpec, weight: (b: number, t: number) => number): DistillFeeds {
  const { batch: B, seq: S } = batch;
  const K = spec.k;
  const idx = new BigInt64Array(B * S * K);
  const val = new Float32Array(B * S * K);
  const weights = new Float32Array(B * S);
  teachers.forEach((tch, b) => {
    if (tch.k < K) throw new Error(`distillation: teacher records hold top-${tch.k}, the graph wants ${K}`);
    for (let t = 0; t < S; t++) {
      const o = (b * S + t) * K;
      if (t >= tch.length) continue;
      for (let j = 0; j < K; j++) {
        idx[o + j] = BigInt(tch.idx[t * tch.k + j]!);
        const z = tch.val[t * tch.k + j]!;
        val[o + j] = spec.mode === 'kl' ? z - tch.lse[t]! : z;
      }
      weights[b * S + t] = weight(b, t);
    }
  });
  return { idx, val, weights };
}

export interface DerOptions {
  /** the buffer: safety examples (prompt + aligned response) */
  buffer: TrainExample[];
  /** teacher records for the buffer (recordTeacherLogits with the aligned model), same order */
  teacher: TeacherLogits[];
  /** weight of the logit-matching term */
  alpha: number;
  /** DER++: weight of the cross-entropy on the buffer's labels (0 = plain DER) */
  beta?: number;
  /** buffer examples per step (default 4) */
  batchSize?: number;
  /** top-k entries matched (default: all recorded) */
  k?: number;
  /** positions matched: 'response' (default, the target tokens' predicting positions) or 'all' */
  positions?: 'response' | 'all';
  maxLength?: number;
}

/**
 * DER / DER++: each step, a buffer batch (sampled with the trainer's RNG) adds
 * alpha · mean over matched positions of mean_k (z_student − z_teacher)² (over the stored top-k
 * entries) + beta · CE on the buffer labels.
 */
export function derTerm(opts: DerOptions): TrainingTerm {
  if (opts.buffer.length === 0) throw new Error('DER: the buffer is empty');
  if (opts.teacher.length !== opts.buffer.length) throw new Error(`DER: ${opts.teacher.length} teacher records for ${opts.buffer.length} buffer examples`);
  const spec: DistillSpec = { k: opts.k ?? opts.teacher[0]!.k, mode: 'mse' };
  return {
    name: opts.beta ? 'der++' : 'der',
    distillSpec: spec,
    async addToStep(ctx: TermContext, grads: Map<string, Float32Array>): Promise<number> {
      const n = Math.min(opts.batchSize ?? 4, opts.buffer.length);
      const picked = ctx.rng.shuffle([...opts.buffer.keys()]).slice(0, n);
      const batch = makeBatch(
        picked.map((i) => opts.buffer[i]!),
        { maxLength: opts.maxLength },
      );
      const S = batch.seq;
      const use = (b: number, t: number) => (opts.positions === 'all' ? batch.attentionMask[b * S + t] === 1n : batch.labelMask[b * S + t] === 1);
      let count = 0;
      for (let b = 0; b < batch.batch; b++) for (let t = 0; t < S; t++) if (use(b, t)) count++;
      const feeds = distillFeeds(
        batch,
        picked.map((i) => opts.teacher[i]!),
        spec,
        (b, t) => (use(b, t) && count ? opts.alpha / count : 0),
      );
      const beta = opts.beta ?? 0;
      const ceWeight = batch.labelMask.map((m) => (batch.tokens ? (beta * m) / batch.tokens : 0));
      const r = await ctx.run({ batch, ceWeight, distill: feeds });
      for (const [k, g] of r.grads) {
        const a = grads.get(k)!;
        for (let i = 0; i < a.length; i++) a[i]! += g[i]!;
      }
      return r.loss;
    },
  };
}

export interface LwfOptions {
  /** teacher records for the task data (recordTeacherLogits with the aligned model), same order as the trainer's data */
  teacher: TeacherLogits[];
  /** weight of the distillation term */
  weight: number;
  /** 'kl' (default): KL(teacher ‖ student) over the stored top-k; 'mse': logit matching */
  mode?: 'kl' | 'mse';
  k?: number;
}

/** LwF: distil the aligned model's outputs on the user's own inputs (on the task batches themselves). */
export function lwfTerm(opts: LwfOptions): TrainingTerm {
  if (opts.teacher.length === 0) throw new Error('LwF: no teacher records');
  const spec: DistillSpec = { k: opts.k ?? opts.teacher[0]!.k, mode: opts.mode ?? 'kl' };
  return {
    name: 'lwf',
    distillSpec: spec,
    distillFor(ctx: TermContext, batch: Batch, examples: number[]): DistillFeeds {
      if (examples.some((i) => i >= opts.teacher.length))
        throw new Error('LwF: a task example has no teacher record (record them for the data the trainer uses)');
      // normalise over the step's target positions, like the task cross-entropy
      const tokens = ctx.taskBatches.reduce((s, tb) => s + tb.batch.tokens, 0);
      const S = batch.seq;
      return distillFeeds(
        batch,
        examples.map((i) => opts.teacher[i]!),
        spec,
        (b, t) => (batch.labelMask[b * S + t] && tokens ? opts.weight / tokens : 0),
      );
    },
  };
}
