/** What a judge's implementation is: a factory from what its row says it needs, and its parsed parameters, to a Judge. */
import type { Embedder } from '../../embed/types';
import type { Generator, Judge, NextTokenScorer } from '../types';

/** What judges may need (their rows say which): the static word vectors, a Llama Guard model being served. */
export interface JudgeDeps {
  embedder?: Embedder;
  guard?: { generator: Generator; scorer?: NextTokenScorer; style?: 'raw' | 'chat'; batchSize?: number };
}

export type JudgeFactory<P> = (deps: JudgeDeps, params: P) => Judge;
