import { z } from 'zod';
import { DataImportParams, DataScreenParams } from './data';
import { EvalRunParams } from './eval';
import { MergeRunRequest } from './merge';
import { GenerateParams, MergeModelRequest } from './models';
import { DataAnalyseParams, SelectRunParams } from './select';
import { TrainPreflightParams, TrainRunParams } from './train';

/**
 * Parameters of every job type, one entry per type. The main process validates `jobs.start`
 * against this union before the runner sees it; the matching module lives in src/main/jobs/types.
 */
export const FileChecksumParams = z.object({
  /** Absolute path of the file to fingerprint (on the machine running the services). */
  path: z.string().min(1, 'path must not be empty'),
  /** Size of each hashed block; the result lists one SHA-256 per block besides the whole file's SHA-256. */
  blockSizeBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(256 * 1024 * 1024)
    .default(4 * 1024 * 1024),
});
export type FileChecksumParams = z.infer<typeof FileChecksumParams>;

export const FileChecksumResult = z.object({
  path: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  blockSizeBytes: z.number().int().positive(),
  /** SHA-256 of the whole file, lower-case hex: what `sha256sum FILE` prints. */
  sha256: z.string(),
  /** One SHA-256 per block of blockSizeBytes. */
  blockDigests: z.array(z.string()),
  /** SHA-256 over the concatenated block digests: depends on the block size, so it is not the file's SHA-256. */
  blocksDigest: z.string(),
  mtimeMs: z.number(),
});
export type FileChecksumResult = z.infer<typeof FileChecksumResult>;

export const JobSpec = z.discriminatedUnion('type', [
  z.object({ type: z.literal('file.checksum'), params: FileChecksumParams }),
  z.object({ type: z.literal('data.import'), params: DataImportParams }),
  z.object({ type: z.literal('data.analyse'), params: DataAnalyseParams }),
  z.object({ type: z.literal('data.screen'), params: DataScreenParams }),
  z.object({ type: z.literal('select.run'), params: SelectRunParams }),
  z.object({ type: z.literal('model.inspect'), params: z.object({ path: z.string().min(1) }) }),
  z.object({ type: z.literal('engine.generate'), params: GenerateParams }),
  z.object({ type: z.literal('eval.run'), params: EvalRunParams }),
  z.object({ type: z.literal('train.run'), params: TrainRunParams }),
  z.object({ type: z.literal('model.merge'), params: MergeModelRequest }),
  z.object({ type: z.literal('train.preflight'), params: TrainPreflightParams }),
  z.object({ type: z.literal('merge.run'), params: MergeRunRequest }),
]);
export type JobSpec = z.infer<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;
export type JobType = JobSpec['type'];
export type JobParamsOf<T extends JobType> = Extract<JobSpec, { type: T }>['params'];
