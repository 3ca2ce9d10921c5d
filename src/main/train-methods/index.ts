/**
 * The training method implementations, one per row of the shared method table
 * (src/shared/methods/train.ts); `satisfies` makes a missing implementation a compile error.
 * `prepareMethod` runs one, by id, with its parsed parameters.
 */
import { TRAIN_METHODS, type TrainMethod, type TrainMethodParams } from '../../shared/train';
import { agem } from './agem';
import { der } from './der';
import { derPlusPlus } from './derPlusPlus';
import { ewc } from './ewc';
import { l2sp } from './l2sp';
import { lisa } from './lisa';
import { lwf } from './lwf';
import { plain } from './plain';
import { replay } from './replay';
import { safelora } from './safelora';
import type { MethodContext, MethodSetup, TrainMethodImpl } from './types';

export type { MethodContext, MethodSetup, TrainMethodImpl } from './types';
export { trainedWeightNames } from './trainedWeights';

export const TRAIN_METHOD_IMPLS = {
  plain,
  replay,
  der,
  'der++': derPlusPlus,
  lwf,
  ewc,
  l2sp,
  agem,
  lisa,
  safelora,
} satisfies { [K in TrainMethod]: TrainMethodImpl<TrainMethodParams<K>> };

/** Implementations by id, for tables with rows beyond the shipped ones (tests add theirs). */
export type TrainMethodImpls = Readonly<Record<string, TrainMethodImpl<never>>>;

/** The method's setup: its implementation run with its (already parsed) parameters. */
export async function prepareMethod(
  method: string,
  params: Record<string, unknown>,
  ctx: MethodContext,
  impls: TrainMethodImpls = TRAIN_METHOD_IMPLS,
): Promise<MethodSetup> {
  const impl = impls[method] as TrainMethodImpl<Record<string, unknown>> | undefined;
  if (!impl)
    throw new Error(
      `no implementation of training method "${method}" (have: ${Object.keys(impls).join(', ')}; the table has ${Object.keys(TRAIN_METHODS).join(', ')})`,
    );
  return impl.prepare(ctx, params);
}
