import type { TextTokenizer } from '../tokenizer/types';
import type { DecoderConfig } from './config';
import type { WeightSource } from './weights';

/** A model found on disk: its description, a lazy weight source and its tokenizer. */
export interface LoadedModel {
  format: 'gguf' | 'hf';
  /** the .gguf file or the Hugging Face folder */
  path: string;
  name: string;
  config: DecoderConfig;
  tokenizer: TextTokenizer;
  weights: WeightSource;
  /** Jinja chat template, when the model ships one */
  chatTemplate: string | null;
}
