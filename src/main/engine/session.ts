/**
 * One generation request end to end (load, open, render the chat template, generate), shared by
 * the `safetune generate` command and the `engine.generate` job.
 */
import type { GenerateParams, GenerateResult } from '../../shared/models';
import { applyChatTemplate, chooseExecutionProvider, generate, loadModel, openModel } from './index';

export interface GenerateHooks {
  /** Compiled-model cache folder (weights memory-mapped and reused across loads). */
  cacheDir?: string;
  onText?: (text: string) => void;
  shouldStop?: () => boolean;
  onStatus?: (message: string) => void;
}

export async function runGeneration(p: GenerateParams, hooks: GenerateHooks = {}): Promise<GenerateResult> {
  hooks.onStatus?.('loading model');
  const model = loadModel(p.modelPath);
  let prompt: string;
  if (p.messages) {
    prompt = applyChatTemplate(model, p.messages, p.chatTemplate ? { template: p.chatTemplate } : {});
  } else if (p.prompt !== undefined) {
    prompt = p.prompt;
  } else {
    throw new Error('give either messages or a prompt');
  }
  const ep = await chooseExecutionProvider();
  const rt = await openModel(model, { ...(p.adapterPath ? { lora: p.adapterPath } : {}), ...(hooks.cacheDir ? { cacheDir: hooks.cacheDir } : {}) });
  try {
    hooks.onStatus?.('generating');
    const t0 = performance.now();
    const s = p.sampling;
    const res = await generate(rt, prompt, {
      maxNewTokens: s.maxNewTokens,
      temperature: s.temperature,
      ...(s.topK !== undefined ? { topK: s.topK } : {}),
      ...(s.topP !== undefined ? { topP: s.topP } : {}),
      ...(s.repetitionPenalty !== undefined ? { repetitionPenalty: s.repetitionPenalty } : {}),
      ...(s.seed !== undefined ? { seed: s.seed } : {}),
      ...(s.stop ? { stop: s.stop } : {}),
      // A chat template already wrote BOS where the model wants it.
      addSpecialTokens: !p.messages,
      // and its special-token text ("<s>", "<|im_start|>") is those tokens
      parseSpecial: !!p.messages,
      onToken: (e) => e.text && hooks.onText?.(e.text),
      ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}),
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      text: res.text,
      finishReason: res.finishReason,
      promptTokens: res.promptTokens,
      completionTokens: res.tokenIds.length,
      tokensPerSecond: seconds > 0 ? res.tokenIds.length / seconds : 0,
      executionProvider: ep.name,
    };
  } finally {
    await rt.release();
  }
}
