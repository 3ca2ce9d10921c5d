/** task_arithmetic (mergekit): base + lambda · Σ wᵢ·τᵢ (÷ Σ wᵢ when `normalize`, default false). */
import { gtaMethod } from './gta';

export const taskArithmetic = gtaMethod({ sparsify: 'none', consensus: false });
