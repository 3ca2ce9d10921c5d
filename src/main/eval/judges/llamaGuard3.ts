/** Llama Guard 3 as a judge of the replies, or of the prompts alone (see ../llamaGuard.ts); needs the generator serving the model. */
import { LlamaGuardJudge } from '../llamaGuard';
import type { JudgeFactory } from './types';

export const llamaGuard3: JudgeFactory<Record<string, never>> = (deps) => new LlamaGuardJudge({ ...deps.guard!, target: 'response' });
export const llamaGuard3Prompt: JudgeFactory<Record<string, never>> = (deps) => new LlamaGuardJudge({ ...deps.guard!, target: 'prompt' });
