/**
 * ties (mergekit): each task vector trimmed to its top `density` fraction by magnitude, a sign
 * elected per entry from Σ wᵢ·τᵢ, the agreeing entries summed and divided by the sum of their
 * weights (`normalize`, default true), times lambda, added to the base.
 */
import { gtaMethod } from './gta';

export const ties = gtaMethod({ sparsify: 'magnitude', consensus: true });
