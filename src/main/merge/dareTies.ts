/** dare_ties (mergekit): DARE's seeded random drop and L1 rescale, then TIES' sign election. */
import { gtaMethod } from './gta';

export const dareTies = gtaMethod({ sparsify: 'random', consensus: true });
