/**
 * LLaMA-Factory recipe (`llamafactory-cli train llamafactory.yaml`): a training YAML whose keys
 * are fields of LLaMA-Factory's ModelArguments, DataArguments, FinetuningArguments and the
 * Hugging Face TrainingArguments it extends (src/llamafactory/hparams/*.py), and a
 * dataset_info.json declaring the mix in its alpaca format (instruction / input / output columns;
 * data/README.md).
 */
import type { RecipeParams } from '../../shared/recipes';
import { commonNotes, duration, loraAlpha, MIX_FILE, quantBits, saveSteps, targetModules } from './common';
import { deepspeedFile } from './deepspeed';
import { float, toYaml, type YamlSection } from './yaml';

export const LLAMAFACTORY_YAML = 'llamafactory.yaml';
export const LLAMAFACTORY_DATASET = 'safetune_mix';
export const DATASET_INFO_FILE = 'dataset_info.json';

/** LLaMA-Factory's template for the run's prompt format: its alpaca template is the workbench's, `empty` adds nothing. */
export function llamaFactoryTemplate(p: RecipeParams): string | undefined {
  if (p.template === 'alpaca') return 'alpaca';
  if (p.template === 'plain') return 'empty';
  return p.chatTemplate;
}

export function llamaFactoryYaml(p: RecipeParams, runName: string): string {
  const template = llamaFactoryTemplate(p);
  const bits = quantBits(p);
  const sections: YamlSection[] = [
    { comment: 'model', entries: { model_name_or_path: p.model } },
    {
      comment: 'method',
      entries: {
        stage: 'sft',
        do_train: true,
        finetuning_type: 'lora',
        lora_rank: p.lora.rank,
        lora_alpha: loraAlpha(p, 'LLaMA-Factory'),
        lora_dropout: float(p.lora.dropout),
        lora_target: targetModules(p).join(','),
        ...(bits !== null ? { quantization_bit: bits } : {}),
      },
    },
    {
      comment: 'dataset',
      entries: {
        dataset: LLAMAFACTORY_DATASET,
        dataset_dir: '.',
        ...(template !== undefined ? { template } : {}),
        cutoff_len: p.maxLength,
        overwrite_cache: true,
        preprocessing_num_workers: 16,
      },
    },
    { comment: 'output', entries: { output_dir: `saves/${runName}`, logging_steps: 10, save_steps: saveSteps(p), plot_loss: true, report_to: 'none' } },
    {
      comment: 'train',
      entries: {
        per_device_train_batch_size: p.batchSize,
        gradient_accumulation_steps: p.gradAccumSteps,
        learning_rate: float(p.lr),
        ...duration(p, 'num_train_epochs'),
        lr_scheduler_type: 'cosine',
        warmup_steps: p.warmupSteps,
        optim: 'adamw_torch',
        weight_decay: float(0),
        max_grad_norm: float(1),
        bf16: p.precision === 'bf16',
        fp16: p.precision === 'fp16',
        seed: p.seed,
        deepspeed: deepspeedFile(p.zeroStage),
      },
    },
  ];
  return toYaml(sections);
}

/** dataset_info.json: the mix as an alpaca-format data set named LLAMAFACTORY_DATASET. */
export function datasetInfo(): Record<string, unknown> {
  return {
    [LLAMAFACTORY_DATASET]: {
      file_name: MIX_FILE,
      formatting: 'alpaca',
      columns: { prompt: 'instruction', query: 'input', response: 'output' },
    },
  };
}

export function llamaFactoryNotes(p: RecipeParams): string[] {
  const notes = commonNotes(p);
  notes.push(
    `Truncation: an example longer than cutoff_len ${p.maxLength} is cut LLaMA-Factory’s way (the shorter of prompt and response kept whole when it takes less than half, else both cut in proportion to their lengths), where the workbench keeps its first ${p.maxLength} tokens; such examples train on a different cut.`,
  );
  if (p.template === 'chat' && !p.chatTemplate)
    notes.push(
      'Template: no LLaMA-Factory template named, so it reads the chat template from the model’s tokenizer (it logs a warning); name one of its templates (llama3, qwen, mistral …) with --chat-template to pin it.',
    );
  return notes;
}
