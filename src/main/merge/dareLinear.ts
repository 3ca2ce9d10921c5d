/**
 * dare_linear (mergekit): each task-vector entry kept with probability `density` (seeded), the kept
 * vector rescaled to its original L1 norm (`rescale`, default true), then base + lambda · Σ wᵢ·τᵢ.
 */
import { gtaMethod } from './gta';

export const dareLinear = gtaMethod({ sparsify: 'random', consensus: false });
