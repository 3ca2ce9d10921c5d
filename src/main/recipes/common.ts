/** What both tools' recipes share: file names, module names, the run's length, precision and notes. */
import type { RecipeParams } from '../../shared/recipes';
import { AppError } from '../../shared/errors';
import { float, type YamlValue } from './yaml';

/** The training mix, as JSONL next to the recipe. */
export const MIX_FILE = 'safetune_mix.jsonl';
export const README_FILE = 'README.txt';

/**
 * The workbench's LoRA targets as the module names of the Hugging Face Llama, Mistral, Qwen2 and
 * Gemma implementations (what the engine's own PEFT adapters name too).
 */
export const HF_MODULE_NAMES = { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' } as const;

export function targetModules(p: RecipeParams): string[] {
  return [...new Set(p.lora.targetModules)].map((t) => HF_MODULE_NAMES[t]);
}

/** Both tools type lora_alpha as an integer (LLaMA-Factory LoraArguments, Axolotl LoraConfig). */
export function loraAlpha(p: RecipeParams, tool: string): number {
  if (!Number.isInteger(p.lora.alpha)) {
    throw new AppError(
      'invalid_input',
      `LoRA alpha ${p.lora.alpha}: ${tool} takes a whole number (lora_alpha is an int there); use ${Math.round(p.lora.alpha) || 1}`,
      { field: 'lora.alpha' },
    );
  }
  return p.lora.alpha;
}

/** Checkpoints: four over a run of max steps (at most every 500 steps). */
export function saveSteps(p: RecipeParams): number {
  return p.epochs !== undefined ? 500 : Math.max(1, Math.min(500, Math.ceil(p.maxSteps / 4)));
}

/** The run's length: optimiser steps, or whole passes over the mix. */
export function duration(p: RecipeParams, epochsKey: string): Record<string, YamlValue> {
  return p.epochs !== undefined ? { [epochsKey]: float(p.epochs) } : { max_steps: p.maxSteps };
}

/**
 * A quantised frozen base (`baseQuant`, QLoRA-style) as the tools load one: bitsandbytes on the fly,
 * 8-bit for q8_0 and 4-bit (NF4, their default) for the 4-bit block formats; null for none.
 */
export function quantBits(p: RecipeParams): 4 | 8 | null {
  if (p.baseQuant === 'none') return null;
  return p.baseQuant === 'q8_0' ? 8 : 4;
}

/** The differences from a workbench run that hold for every recipe. */
export function commonNotes(p: RecipeParams): string[] {
  const bits = quantBits(p);
  const batch = p.batchSize * p.gradAccumSteps;
  return [
    `Batch: ${p.batchSize} per GPU × ${p.gradAccumSteps} accumulation step${p.gradAccumSteps === 1 ? '' : 's'} = ${batch} examples per optimiser step on one GPU, as in the workbench; on N GPUs each step sees N × ${batch}, so ${p.epochs !== undefined ? 'epochs take N times fewer steps' : `${p.maxSteps} steps cover N times more examples (divide max_steps by N to see as many as the workbench run)`}.`,
    `Precision: ${p.precision === 'fp32' ? 'fp32, as the workbench trains' : `${p.precision} mixed precision on the GPUs (the workbench trains in fp32 on the CPU), so losses differ in the last digits`}.`,
    'Optimiser: AdamW (betas 0.9/0.999, eps 1e-8, no weight decay), gradients clipped to norm 1, cosine learning rate after the warm-up: the workbench trainer’s defaults.',
    ...(bits !== null
      ? [
          `Quantised base: the workbench run holds the frozen base in ggml's ${p.baseQuant.toUpperCase()} blocks; the tool quantises it on load with bitsandbytes (${bits === 8 ? 'int8' : '4-bit NF4'}), a different ${bits}-bit code, so losses differ slightly. The adapter is trained in fp32/${p.precision} on top, as in the workbench.`,
        ]
      : []),
  ];
}
