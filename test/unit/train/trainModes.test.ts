/**
 * The training modes as the job, the form and the CLI see them: LoRA (the default, and what jobs
 * stored before full-parameter training parse as) or full-parameter training with the engine's
 * trainable groups; and the weights each mode trains, which EWC estimates its Fisher over.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/main/engine';
import { TRAINABLE_GROUPS } from '../../../src/main/engine/train';
import { hfConfigJson } from '../../../src/main/engine/hf/configWriter';
import { trainedModelFormat, trainRunJob } from '../../../src/main/jobs/types/trainRun';
import { trainedWeightNames } from '../../../src/main/train-methods';
import { JobSpec } from '../../../src/shared/jobs';
import { paramFields } from '../../../src/shared/methods/table';
import { FullSettings, TRAIN_MODES, TrainableGroup, TrainRunParams } from '../../../src/shared/train';
import { repoRoot } from '../../helpers/shared';

const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const base = { projectId: 1, modelPath: '/m.gguf' };

describe('training modes', () => {
  it('jobs stored without a mode are LoRA runs, parsed to the same settings by the job as by the app', () => {
    // a row as the version before full-parameter training stored it
    const stored = {
      ...base,
      method: 'plain',
      methodParams: {},
      template: 'alpaca',
      lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q', 'v'] },
      lr: 3e-4,
      maxSteps: 10,
    };
    const p = trainRunJob.params.parse(stored);
    expect(JobSpec.parse({ type: 'train.run', params: stored }).params).toEqual(p);
    expect(p.mode).toBe('lora');
    expect(p.lora).toEqual(stored.lora);
    expect(p.outPath).toBeUndefined();
    // and a row stored now parses to itself
    expect(TrainRunParams.parse(p)).toEqual(p);
    const full = TrainRunParams.parse({ ...base, mode: 'full', full: { trainable: ['attention', 'norms'] } });
    expect(TrainRunParams.parse(full)).toEqual(full);
  });

  it('full mode trains every weight by default, or the groups given; an empty or unknown group is refused', () => {
    expect(TrainRunParams.parse({ ...base, mode: 'full' }).full).toEqual({ trainable: ['all'] });
    expect(TrainRunParams.parse({ ...base, mode: 'full', full: { trainable: ['mlp', 'embeddings'] } }).full.trainable).toEqual(['mlp', 'embeddings']);
    expect(TrainRunParams.safeParse({ ...base, mode: 'full', full: { trainable: [] } }).success).toBe(false);
    expect(TrainRunParams.safeParse({ ...base, mode: 'full', full: { trainable: ['wings'] } }).success).toBe(false);
    expect(TrainRunParams.safeParse({ ...base, mode: 'adapter' }).success).toBe(false);
  });

  it('offers exactly the engine’s trainable groups', () => {
    expect(TrainableGroup.options).toEqual([...TRAINABLE_GROUPS]);
    const [trainable] = paramFields(FullSettings);
    expect(trainable).toMatchObject({ key: 'trainable', kind: 'multi', cli: 'trainable', default: ['all'], options: [...TRAINABLE_GROUPS] });
  });

  it('each mode is a row with a label, one line and settings that parse to their defaults', () => {
    expect(Object.keys(TRAIN_MODES)).toEqual(['lora', 'full']);
    for (const [id, row] of Object.entries(TRAIN_MODES)) {
      expect(row.label.trim(), id).not.toBe('');
      expect(row.description, id).not.toMatch(/\n/);
      expect(row.params.safeParse({}).success, id).toBe(true);
    }
  });

  it('the weights a run trains: the LoRA targets’ matrices, or the trained weights of full mode', () => {
    const model = loadModel(tinyLlama);
    const lora = { rank: 2, alpha: 4, targetModules: ['q' as const, 'v' as const] };
    expect(trainedWeightNames(model, { seed: 0, maxLength: 16, lora })).toEqual(
      [0, 1].flatMap((l) => [`model.layers.${l}.self_attn.q_proj.weight`, `model.layers.${l}.self_attn.v_proj.weight`]),
    );
    expect(trainedWeightNames(model, { seed: 0, maxLength: 16, lora, full: { trainable: ['mlp'] } })).toEqual(
      [0, 1].flatMap((l) => ['gate', 'up', 'down'].map((p) => `model.layers.${l}.mlp.${p}_proj.weight`)),
    );
    const all = trainedWeightNames(model, { seed: 0, maxLength: 16, lora, full: { trainable: ['all'] } });
    expect(all).toContain('model.embed_tokens.weight');
    expect(all).toContain('model.norm.weight');
    expect(all.length).toBe(model.weights.names().length);
  });

  it('a full run writes its model as the base is stored; a GGUF base the GGUF writer cannot express as a Hugging Face folder; neither: refused up front', () => {
    const cfg = (name: string) => loadModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', name)).config;
    expect(trainedModelFormat(cfg('tiny-mistral'), 'gguf', hfConfigJson)).toBe('gguf');
    // this Llama has llama3 rope scaling, which the GGUF writer does not write
    expect(cfg('tiny-llama').ropeScaling).not.toBeNull();
    expect(trainedModelFormat(cfg('tiny-llama'), 'gguf', hfConfigJson)).toBe('hf');
    expect(trainedModelFormat(cfg('tiny-llama'), 'hf', hfConfigJson)).toBe('hf');
    // Qwen2 has attention biases: no llama GGUF, but its config.json can be written
    expect(trainedModelFormat(cfg('tiny-qwen2'), 'gguf', hfConfigJson)).toBe('hf');
    expect(() => trainedModelFormat(cfg('tiny-gemma'), 'gguf', hfConfigJson)).toThrow(
      /^full-parameter training of this gemma GGUF model could not write its result \(config\.json: writing a gemma configuration is not supported/,
    );
    // a Hugging Face base keeps its own config.json: always writable
    expect(trainedModelFormat(cfg('tiny-gemma'), 'hf', hfConfigJson)).toBe('hf');
  });
});
