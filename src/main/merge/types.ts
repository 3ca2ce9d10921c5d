/**
 * What a merge method implementation sees: one tensor's inputs streamed in chunks, the tensor's
 * resolved parameters, and a sink for the merged values. Methods that need whole-tensor statistics
 * (TIES' top-k, DARE's L1 rescale, SLERP's angle) walk the chunks more than once; a tensor that fits
 * in one chunk is read once and kept for the later passes.
 */
import type { TensorParams } from './params';

export interface TensorInputs {
  /** Hugging Face tensor name (what `filter:` conditions match) */
  readonly name: string;
  readonly numel: number;
  /** number of contributing models */
  readonly count: number;
  /**
   * Calls `fn` for consecutive chunks covering the tensor: `base` (null for methods that take no
   * base) and each contributor's values for [start, start + length). The arrays are read-only,
   * except in the `last` pass, which may overwrite them (nothing reads them again).
   */
  forEachChunk(fn: (start: number, base: Float32Array | null, models: readonly Float32Array[]) => void, last?: boolean): void;
  /**
   * Calls `fn` for short spans spread evenly over the tensor, at most `total` values in all (a
   * sample read at a fraction of a pass's cost), and returns true; returns false without calling
   * it when a pass costs no more (a tensor read in one chunk, or spans that would cover much of it).
   */
  forEachSpan?(total: number, fn: (start: number, base: Float32Array | null, models: readonly Float32Array[]) => void): boolean;
  /** A reusable byte array of at least one chunk's length. */
  mask(): Uint8Array;
}

/** Receives the merged tensor chunk by chunk, in order (the values may be overwritten after the call). */
export type EmitChunk = (start: number, values: Float32Array) => void;

export interface MergeMethodImpl {
  /** true: the base model is read and task vectors are taken against it; it is then not a contributor */
  readonly usesBase: boolean;
  /** Refuse parameter values that cannot merge this tensor, before anything is written. */
  check?(p: TensorParams, numel: number, tensor: string): void;
  merge(inputs: TensorInputs, p: TensorParams, emit: EmitChunk, seedKey: number): void;
}
