/**
 * Axolotl recipe (`accelerate launch -m axolotl.cli.train axolotl.yaml`): a YAML whose keys are
 * fields of Axolotl's config schema (src/axolotl/utils/schemas/: config.py, peft.py, training.py,
 * model.py, datasets.py), training from the mix as a local JSON-lines data set: `type: alpaca` for
 * the Alpaca prompt (Axolotl's is the workbench's), a user-defined format that adds nothing for
 * plain prompts, and `chat_template` over `messages` for the model's chat template.
 */
import type { RecipeParams } from '../../shared/recipes';
import { commonNotes, duration, loraAlpha, MIX_FILE, quantBits, saveSteps, targetModules } from './common';
import { deepspeedFile } from './deepspeed';
import { float, toYaml, type YamlValue } from './yaml';

export const AXOLOTL_YAML = 'axolotl.yaml';

/** How the mix is stored for Axolotl: Alpaca columns, or chat messages for its chat_template type. */
export function axolotlDataFormat(p: RecipeParams): 'alpaca' | 'chat' {
  return p.template === 'chat' ? 'chat' : 'alpaca';
}

function datasetEntry(p: RecipeParams): Record<string, YamlValue> {
  const base = { path: MIX_FILE, ds_type: 'json' };
  if (p.template === 'alpaca') return { ...base, type: 'alpaca' };
  if (p.template === 'chat') return { ...base, type: 'chat_template', field_messages: 'messages' };
  return {
    ...base,
    type: { system_prompt: '', field_instruction: 'instruction', field_output: 'output', format: '{instruction}', no_input_format: '{instruction}' },
  };
}

export function axolotlYaml(p: RecipeParams, runName: string): string {
  const bits = quantBits(p);
  return toYaml([
    { comment: 'model', entries: { base_model: p.model } },
    {
      comment: 'data',
      entries: {
        datasets: [datasetEntry(p)],
        ...(p.template === 'chat' ? { chat_template: p.chatTemplate ?? 'tokenizer_default' } : {}),
        dataset_prepared_path: 'last_run_prepared',
        val_set_size: float(0),
        sequence_len: p.maxLength,
        excess_length_strategy: 'truncate',
        sample_packing: false,
        train_on_inputs: false,
      },
    },
    {
      comment: 'adapter',
      entries: {
        adapter: bits === 4 ? 'qlora' : 'lora',
        ...(bits === 4 ? { load_in_4bit: true } : bits === 8 ? { load_in_8bit: true } : {}),
        lora_r: p.lora.rank,
        lora_alpha: loraAlpha(p, 'Axolotl'),
        lora_dropout: float(p.lora.dropout),
        lora_target_modules: targetModules(p),
      },
    },
    {
      comment: 'training',
      entries: {
        micro_batch_size: p.batchSize,
        gradient_accumulation_steps: p.gradAccumSteps,
        learning_rate: float(p.lr),
        ...duration(p, 'num_epochs'),
        optimizer: 'adamw_torch',
        lr_scheduler: 'cosine',
        warmup_steps: p.warmupSteps,
        weight_decay: float(0),
        max_grad_norm: float(1),
        bf16: p.precision === 'bf16',
        fp16: p.precision === 'fp16',
        seed: p.seed,
        logging_steps: 10,
        save_steps: saveSteps(p),
        output_dir: `outputs/${runName}`,
        deepspeed: deepspeedFile(p.zeroStage),
      },
    },
  ]);
}

export function axolotlNotes(p: RecipeParams): string[] {
  const notes = commonNotes(p);
  notes.push(
    `Truncation: examples longer than sequence_len ${p.maxLength} keep their first ${p.maxLength} tokens (excess_length_strategy: truncate), as in the workbench.`,
  );
  if (p.epochs !== undefined) notes.push('Axolotl counts num_epochs over the mix after its own preprocessing; no max_steps is set.');
  return notes;
}
