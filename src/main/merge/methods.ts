/**
 * The merge method implementations, one per id of the shared method table
 * (src/shared/merge.ts). `satisfies` makes a missing implementation a compile error.
 */
import type { MergeMethodId } from '../../shared/merge';
import { dareLinear } from './dareLinear';
import { dareTies } from './dareTies';
import { linear } from './linear';
import { magmax } from './magmax';
import { slerp } from './slerp';
import { taskArithmetic } from './taskArithmetic';
import { ties } from './ties';
import type { MergeMethodImpl } from './types';

export const MERGE_METHODS = {
  linear,
  task_arithmetic: taskArithmetic,
  ties,
  dare_linear: dareLinear,
  dare_ties: dareTies,
  slerp,
  magmax,
} satisfies Record<MergeMethodId, MergeMethodImpl>;
