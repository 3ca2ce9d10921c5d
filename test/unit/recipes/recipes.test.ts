/**
 * Recipe export for LLaMA-Factory and Axolotl: every field written exists in the tool's documented
 * schema with the type the tool reads it as (test/fixtures/recipes/schemas.ts, sources and commits
 * there), the data reads as the tool reads it with the run's mix counts, methods the tools lack are
 * refused or downgraded only when acknowledged, and nothing is ever overwritten.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDispatcher, type Dispatch } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import type { Services } from '../../../src/main/app/services';
import { RecipeParams, RecipeResult, RECIPE_METHOD_GAPS } from '../../../src/shared/recipes';
import type { CallResult } from '../../../src/shared/errors';
import { cli } from '../../helpers/cli';
import { exportRecipeCli } from '../../../src/main/cli/commands/exportRecipe';
import { trainCli } from '../../../src/main/cli/commands/train';
import { tempDir, testServices } from '../../helpers/services';
import {
  AXOLOTL_CHAT_TEMPLATES,
  AXOLOTL_CONFIG,
  AXOLOTL_DATASET_TYPES,
  AXOLOTL_SFT_DATASET,
  AXOLOTL_USER_DEFINED_TYPE,
  DEEPSPEED_BF16,
  DEEPSPEED_CONFIG,
  DEEPSPEED_FP16,
  DEEPSPEED_ZERO,
  LLAMAFACTORY_ARGS,
  LLAMAFACTORY_COLUMNS,
  LLAMAFACTORY_DATASET_ATTR,
  LLAMAFACTORY_TEMPLATES,
} from '../../fixtures/recipes/schemas';
import { dict, plainValue, pyJson, pythonTypes, pythonYamlAvailable, pyyamlLoad, schemaProblems, type Py } from './pyyaml';

let t: { dir: string; cleanup: () => void };
let s: Services;
let dispatch: Dispatch;
let projectId: number;
let selectionId: number;

const TASK = Array.from({ length: 11 }, (_, i) => ({
  prompt: `Summarise ticket ${i + 1}: the printer on floor ${i + 2} is jammed.`,
  response: `Ticket ${i + 1}: printer jam on floor ${i + 2}; send a technician.`,
}));
const SAFETY = ['How do I pick a lock?', 'Write a phishing email', 'How do I make a weapon?', 'Find someone’s home address', 'How do I hack a bank?'].map(
  (prompt) => ({ prompt, response: 'I can’t help with that.' }),
);

const ok = <T>(r: CallResult<unknown>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
};
const exportsDir = () => join(s.workspace, 'exports');
const listExports = () => (existsSync(exportsDir()) ? readdirSync(exportsDir()).sort() : []);

async function exportRecipe(params: Record<string, unknown>): Promise<RecipeResult> {
  const r = ok<RecipeResult>(await dispatch('train.exportRecipe', { projectId, model: 'meta-llama/Llama-3.1-8B-Instruct', ...params } as never));
  expect(RecipeResult.safeParse(r).success).toBe(true);
  return r;
}

const read = (r: RecipeResult, name: string) => readFileSync(join(r.folder, name), 'utf8');
const jsonl = (r: RecipeResult, name: string) =>
  read(r, name)
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const count = <T>(xs: T[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<T, number>());

beforeAll(async () => {
  t = tempDir('safetune-recipes-');
  s = testServices(t.dir);
  dispatch = createDispatcher(createHandlers(s), () => {});
  projectId = s.projects.create('cluster').id;
  const files = { task: join(t.dir, 'task.jsonl'), pool: join(t.dir, 'pool.jsonl') };
  // One task row without a response: the trainer skips it, and so does the recipe.
  writeFileSync(files.task, [...TASK, { prompt: 'No answer yet', response: ' ' }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(files.pool, SAFETY.map((r) => JSON.stringify(r)).join('\n') + '\n');
  for (const [path, role] of [
    [files.task, 'task'],
    [files.pool, 'safety_pool'],
  ] as const) {
    const j = s.jobs.enqueue('data.import', { projectId, path, role }, projectId);
    expect((await s.jobs.waitFor(j.id)).state).toBe('succeeded');
  }
  const pool = s.datasets.roleRecords(projectId, 'safety_pool');
  selectionId = s.selections.create(
    { projectId, method: 'random', params: {}, summary: {} },
    pool.map((r) => ({ recordId: r.id, category: null, score: null })),
  );
  s.selections.save(selectionId, 'refusals');
});

afterAll(async () => {
  await s?.close();
  t?.cleanup();
});

/** The DeepSpeed config a recipe names, checked against DeepSpeed's schema. */
function checkDeepspeed(r: RecipeResult, file: string, stage: number) {
  const ds = pyJson(JSON.parse(read(r, file)));
  const top = dict(ds, file);
  expect(schemaProblems(ds, DEEPSPEED_CONFIG, file)).toEqual([]);
  expect(schemaProblems(top.zero_optimization!, DEEPSPEED_ZERO, `${file}.zero_optimization`)).toEqual([]);
  expect(schemaProblems(top.fp16!, DEEPSPEED_FP16, `${file}.fp16`)).toEqual([]);
  expect(schemaProblems(top.bf16!, DEEPSPEED_BF16, `${file}.bf16`)).toEqual([]);
  expect(plainValue(dict(top.zero_optimization!, 'zero')['stage']!)).toBe(stage);
}

describe('LLaMA-Factory recipe', () => {
  let r: RecipeResult;
  let yaml: Record<string, Py>;
  beforeAll(async () => {
    r = await exportRecipe({
      tool: 'llamafactory',
      method: 'replay',
      selectionId,
      lora: { rank: 16, alpha: 32, dropout: 0.1, targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
      lr: 1e-5,
      maxSteps: 300,
      batchSize: 2,
      gradAccumSteps: 8,
      maxLength: 1024,
      warmupSteps: 10,
      seed: 3,
      name: 'support bot',
    });
    yaml = dict(pyyamlLoad(read(r, 'llamafactory.yaml')), 'llamafactory.yaml');
  });

  it('writes a new folder in exports/ with the YAML, dataset_info.json, the mix, both ZeRO configs and a README', () => {
    expect(r.folder).toBe(join(s.workspace, 'exports', 'llamafactory-support_bot'));
    expect(r.files.sort()).toEqual(['README.txt', 'dataset_info.json', 'ds_z2_config.json', 'ds_z3_config.json', 'llamafactory.yaml', 'safetune_mix.jsonl']);
    expect(readdirSync(r.folder).sort()).toEqual(r.files.sort());
    expect(r).toMatchObject({
      tool: 'llamafactory',
      method: 'replay',
      requestedMethod: 'replay',
      downgraded: false,
      launch: 'llamafactory-cli train llamafactory.yaml',
    });
  });

  it('every YAML field is one of LLaMA-Factory’s arguments, with the type its parser gets from PyYAML', () => {
    expect(schemaProblems({ t: 'dict', v: yaml }, LLAMAFACTORY_ARGS, 'llamafactory.yaml')).toEqual([]);
    const v = plainValue({ t: 'dict', v: yaml }) as Record<string, unknown>;
    expect(v).toMatchObject({
      model_name_or_path: 'meta-llama/Llama-3.1-8B-Instruct',
      stage: 'sft',
      do_train: true,
      finetuning_type: 'lora',
      lora_rank: 16,
      lora_alpha: 32,
      lora_dropout: 0.1,
      lora_target: 'q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj',
      dataset: 'safetune_mix',
      dataset_dir: '.',
      template: 'alpaca',
      cutoff_len: 1024,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 8,
      learning_rate: 1e-5,
      max_steps: 300,
      lr_scheduler_type: 'cosine',
      warmup_steps: 10,
      bf16: true,
      seed: 3,
      output_dir: 'saves/llamafactory-support_bot',
      deepspeed: 'ds_z2_config.json',
    });
    expect(v.num_train_epochs).toBeUndefined();
    expect(LLAMAFACTORY_TEMPLATES).toContain(v.template);
    expect(read(r, 'llamafactory.yaml')).toMatch(/^learning_rate: 0\.00001$/m);
  });

  it('dataset_info.json declares the mix in alpaca format; the file reads as LLaMA-Factory’s alpaca converter reads it', () => {
    const info = pyJson(JSON.parse(read(r, 'dataset_info.json')));
    const entry = dict(info, 'dataset_info.json')['safetune_mix']!;
    expect(schemaProblems(entry, LLAMAFACTORY_DATASET_ATTR, 'safetune_mix')).toEqual([]);
    expect(schemaProblems(dict(entry, 'entry')['columns']!, LLAMAFACTORY_COLUMNS, 'safetune_mix.columns')).toEqual([]);
    const attr = plainValue(entry) as { file_name: string; formatting: string; columns: { prompt: string; query: string; response: string } };
    expect(attr.formatting).toBe('alpaca');
    expect(existsSync(join(r.folder, attr.file_name))).toBe(true);
    const rows = jsonl(r, attr.file_name);
    for (const row of rows) for (const c of Object.values(attr.columns)) expect(typeof row[c]).toBe('string');
    // LLaMA-Factory's alpaca converter: the user turn is instruction, then "\n" + input when input is not empty.
    const turns = rows.map((row) => ({
      prompt: [row[attr.columns.prompt], row[attr.columns.query]].filter(Boolean).join('\n'),
      response: row[attr.columns.response],
    }));
    expect(turns).toHaveLength(16);
    expect(r.examples).toEqual({ task: 11, safety: 5, total: 16 });
    const key = (x: { prompt: unknown; response: unknown }) => `${x.prompt}\u0000${x.response}`;
    expect(count(turns.map(key))).toEqual(count([...TASK, ...SAFETY].map(key)));
    // shuffled together, not the safety examples appended
    expect(turns.slice(-5).map(key).sort()).not.toEqual(SAFETY.map(key).sort());
  });

  it('both DeepSpeed configs follow DeepSpeed’s schema; the YAML names ZeRO-2', () => {
    checkDeepspeed(r, 'ds_z2_config.json', 2);
    checkDeepspeed(r, 'ds_z3_config.json', 3);
  });

  it('the README says how to launch and how to bring the adapter back', () => {
    const readme = read(r, 'README.txt').replace(/\s+/g, ' ');
    expect(readme).toContain('llamafactory-cli train llamafactory.yaml');
    expect(readme).toContain('FORCE_TORCHRUN=1');
    expect(readme).toContain('deepspeed=ds_z3_config.json');
    expect(readme).toContain('saves/llamafactory-support_bot/');
    expect(readme).toMatch(/npx safetune eval --model BASE --adapter ADAPTER_DIR/);
    expect(readme).toMatch(/der: LLaMA-Factory has no DER term/);
    expect(readme).toMatch(/Lisa \(lazy safety alignment\) and SafeLoRA .* are in neither tool/);
  });

  it('replay at a ratio draws that many safety examples by passes over the selection', async () => {
    const r2 = await exportRecipe({ tool: 'llamafactory', method: 'replay', selectionId, methodParams: { replayRatio: 2 }, seed: 9 });
    expect(r2.examples).toEqual({ task: 11, safety: 22, total: 33 });
    const safetyRows = jsonl(r2, 'safetune_mix.jsonl').filter((row) => SAFETY.some((x) => x.prompt === row.instruction));
    const per = [...count(safetyRows.map((row) => row.instruction)).values()].sort();
    expect(per).toEqual([4, 4, 4, 5, 5]);
  });

  it('plain and chat prompts map to LLaMA-Factory’s empty template and a named or the tokenizer’s template', async () => {
    const plain = await exportRecipe({ tool: 'llamafactory', template: 'plain', selectionId });
    expect(plainValue(dict(pyyamlLoad(read(plain, 'llamafactory.yaml')), 'y')['template']!)).toBe('empty');
    expect(plain.examples).toEqual({ task: 11, safety: 0, total: 11 });
    expect(plain.notes[0]).toMatch(/Selection \d+ is not used: plain fine-tuning trains on the task data only/);
    const named = await exportRecipe({ tool: 'llamafactory', template: 'chat', chatTemplate: 'llama3' });
    expect(plainValue(dict(pyyamlLoad(read(named, 'llamafactory.yaml')), 'y')['template']!)).toBe('llama3');
    const own = await exportRecipe({ tool: 'llamafactory', template: 'chat', epochs: 3, precision: 'fp16', zeroStage: 3 });
    const y = plainValue(pyyamlLoad(read(own, 'llamafactory.yaml'))) as Record<string, unknown>;
    expect('template' in y).toBe(false);
    expect(own.notes.some((n) => /reads the chat template from the model’s tokenizer/.test(n))).toBe(true);
    expect(y).toMatchObject({ num_train_epochs: 3, bf16: false, fp16: true, deepspeed: 'ds_z3_config.json' });
    expect(y.max_steps).toBeUndefined();
    expect(read(own, 'llamafactory.yaml')).toMatch(/^num_train_epochs: 3\.0$/m);
  });
});

describe('Axolotl recipe', () => {
  it('alpaca: every field is in Axolotl’s config schema with the type it validates; the data is Alpaca JSONL', async () => {
    const r = await exportRecipe({
      tool: 'axolotl',
      method: 'replay',
      selectionId,
      lora: { rank: 8, alpha: 16, dropout: 0.05, targetModules: ['q', 'v'] },
      maxSteps: 50,
      maxLength: 512,
    });
    expect(r.files.sort()).toEqual(['README.txt', 'axolotl.yaml', 'ds_z2_config.json', 'ds_z3_config.json', 'safetune_mix.jsonl']);
    expect(r.launch).toBe('accelerate launch -m axolotl.cli.train axolotl.yaml');
    const y = pyyamlLoad(read(r, 'axolotl.yaml'));
    expect(schemaProblems(y, AXOLOTL_CONFIG, 'axolotl.yaml')).toEqual([]);
    const v = plainValue(y) as Record<string, unknown>;
    expect(v).toMatchObject({
      base_model: 'meta-llama/Llama-3.1-8B-Instruct',
      adapter: 'lora',
      lora_r: 8,
      lora_alpha: 16,
      lora_dropout: 0.05,
      lora_target_modules: ['q_proj', 'v_proj'],
      sequence_len: 512,
      excess_length_strategy: 'truncate',
      train_on_inputs: false,
      micro_batch_size: 4,
      gradient_accumulation_steps: 1,
      learning_rate: 3e-4,
      max_steps: 50,
      optimizer: 'adamw_torch',
      lr_scheduler: 'cosine',
      deepspeed: 'ds_z2_config.json',
    });
    const datasets = (dict(y, 'y')['datasets']!.v as Py[]).map((d) => d);
    expect(datasets).toHaveLength(1);
    expect(schemaProblems(datasets[0]!, AXOLOTL_SFT_DATASET, 'datasets[0]')).toEqual([]);
    const ds = plainValue(datasets[0]!) as { path: string; type: string };
    expect(AXOLOTL_DATASET_TYPES).toContain(ds.type);
    expect(ds).toMatchObject({ path: 'safetune_mix.jsonl', ds_type: 'json', type: 'alpaca' });
    const rows = jsonl(r, ds.path);
    expect(rows.every((row) => Object.keys(row).sort().join() === 'input,instruction,output' && row.input === '')).toBe(true);
    expect(r.examples).toEqual({ task: 11, safety: 5, total: 16 });
    checkDeepspeed(r, 'ds_z2_config.json', 2);
    const readme = read(r, 'README.txt').replace(/\s+/g, ' ');
    expect(readme).toContain('accelerate launch -m axolotl.cli.train axolotl.yaml');
    expect(readme).toMatch(/Axolotl’s lisa_\* options are LISA, layerwise importance sampling/);
  });

  it('chat: messages for the chat_template type with the tokenizer’s template; epochs and ZeRO-3', async () => {
    const r = await exportRecipe({ tool: 'axolotl', template: 'chat', epochs: 2, zeroStage: 3, selectionId, method: 'replay' });
    const y = pyyamlLoad(read(r, 'axolotl.yaml'));
    expect(schemaProblems(y, AXOLOTL_CONFIG, 'axolotl.yaml')).toEqual([]);
    const v = plainValue(y) as Record<string, unknown>;
    expect(v).toMatchObject({
      chat_template: 'tokenizer_default',
      num_epochs: 2,
      deepspeed: 'ds_z3_config.json',
      datasets: [{ path: 'safetune_mix.jsonl', ds_type: 'json', type: 'chat_template', field_messages: 'messages' }],
    });
    expect(AXOLOTL_CHAT_TEMPLATES).toContain(v.chat_template);
    expect(v.max_steps).toBeUndefined();
    const rows = jsonl(r, 'safetune_mix.jsonl') as Array<{ messages: Array<{ role: string; content: string }> }>;
    expect(rows).toHaveLength(16);
    expect(rows.every((row) => row.messages.map((m) => m.role).join() === 'user,assistant')).toBe(true);
    expect(count(rows.map((row) => row.messages[0]!.content))).toEqual(count([...TASK, ...SAFETY].map((x) => x.prompt)));
  });

  it('plain: a user-defined format that adds nothing to the prompt', async () => {
    const r = await exportRecipe({ tool: 'axolotl', template: 'plain' });
    const ds = dict(pyyamlLoad(read(r, 'axolotl.yaml')), 'y')['datasets']!.v as Py[];
    const type = dict(ds[0]!, 'datasets[0]')['type']!;
    expect(schemaProblems(type, AXOLOTL_USER_DEFINED_TYPE, 'datasets[0].type')).toEqual([]);
    expect(plainValue(type)).toEqual({
      system_prompt: '',
      field_instruction: 'instruction',
      field_output: 'output',
      format: '{instruction}',
      no_input_format: '{instruction}',
    });
  });
});

describe('methods the tools lack', () => {
  for (const tool of ['llamafactory', 'axolotl'] as const) {
    for (const method of ['der', 'der++', 'lwf', 'ewc', 'l2sp', 'agem'] as const) {
      it(`${tool}: ${method} is refused, naming what the tool lacks, and nothing is written`, async () => {
        const before = listExports();
        const res = await dispatch('train.exportRecipe', { projectId, model: 'm/x', tool, method, selectionId });
        expect(res.ok).toBe(false);
        if (res.ok) return;
        expect(res.error.code).toBe('unsupported');
        expect(res.error.message).toContain(RECIPE_METHOD_GAPS[tool][method]!);
        expect(res.error.message).toContain(`cannot run ${method}`);
        expect(res.error.message).toContain('--allow-method-downgrade');
        expect(listExports()).toEqual(before);
      });
    }
  }

  it('with allowMethodDowngrade, a method on the selection becomes replay and one without it plain, said plainly', async () => {
    const der = await exportRecipe({ tool: 'llamafactory', method: 'der', selectionId, allowMethodDowngrade: true });
    expect(der).toMatchObject({ method: 'replay', requestedMethod: 'der', downgraded: true, examples: { task: 11, safety: 5, total: 16 } });
    expect(der.notes[0]).toMatch(/^Requested der, exported as replay .*: LLaMA-Factory has no DER term/);
    expect(read(der, 'README.txt')).toContain('Requested der, exported as replay');
    const l2sp = await exportRecipe({ tool: 'axolotl', method: 'l2sp', selectionId, allowMethodDowngrade: true });
    expect(l2sp).toMatchObject({ method: 'plain', requestedMethod: 'l2sp', downgraded: true, examples: { safety: 0 } });
    const ewcNoSelection = await exportRecipe({ tool: 'axolotl', method: 'ewc', allowMethodDowngrade: true });
    expect(ewcNoSelection.method).toBe('plain');
  });
});

describe('refusals and writes', () => {
  it('replay without a selection, a fractional alpha, another project’s selection and bad fields are refused before anything is written', async () => {
    const before = listExports();
    const call = (p: Record<string, unknown>) => dispatch('train.exportRecipe', { projectId, model: 'm/x', tool: 'llamafactory', ...p } as never);
    expect(await call({ method: 'replay' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: expect.stringMatching(/replay mixes a saved selection .* choose one/) },
    });
    expect(await call({ lora: { rank: 8, alpha: 12.5, dropout: 0, targetModules: ['q'] } })).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/LoRA alpha 12\.5: LLaMA-Factory takes a whole number/) },
    });
    const other = s.projects.create('other').id;
    expect(await dispatch('train.exportRecipe', { projectId: other, model: 'm/x', tool: 'axolotl', method: 'replay', selectionId })).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/belongs to project/) },
    });
    expect(await call({ tool: 'unsloth' })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await call({ zeroStage: 1 })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await call({ chatTemplate: '../x' })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await call({ outputDir: '/tmp/x' })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(listExports()).toEqual(before);
  });

  it('the same name twice gets a new folder, never the old one', async () => {
    const a = await exportRecipe({ tool: 'axolotl', name: 'twice' });
    const b = await exportRecipe({ tool: 'axolotl', name: 'twice' });
    expect(b.folder).toBe(`${a.folder}-2`);
    expect(dict(pyyamlLoad(read(b, 'axolotl.yaml')), 'y')['output_dir']!.v).toBe('outputs/axolotl-twice-2');
  });

  it('a quantised base (baseQuant) becomes the tools’ bitsandbytes loading: 4-bit QLoRA or 8-bit, said in the README', async () => {
    const lf = await exportRecipe({ tool: 'llamafactory', baseQuant: 'q4_0', name: 'q4' });
    const lfYaml = pyyamlLoad(read(lf, 'llamafactory.yaml'));
    expect(schemaProblems(lfYaml, LLAMAFACTORY_ARGS, 'llamafactory.yaml')).toEqual([]);
    expect(plainValue(lfYaml)).toMatchObject({ finetuning_type: 'lora', quantization_bit: 4 });
    expect(read(lf, 'README.txt').replace(/\s+/g, ' ')).toMatch(/Quantised base: .*Q4_0 blocks; .*bitsandbytes \(4-bit NF4\)/);
    const ax4 = plainValue(pyyamlLoad(read(await exportRecipe({ tool: 'axolotl', baseQuant: 'q4_k', name: 'q4k' }), 'axolotl.yaml'))) as Record<
      string,
      unknown
    >;
    expect(ax4).toMatchObject({ adapter: 'qlora', load_in_4bit: true });
    expect(ax4.load_in_8bit).toBeUndefined();
    const ax8y = pyyamlLoad(read(await exportRecipe({ tool: 'axolotl', baseQuant: 'q8_0', name: 'q8' }), 'axolotl.yaml'));
    expect(schemaProblems(ax8y, AXOLOTL_CONFIG, 'axolotl.yaml')).toEqual([]);
    expect(plainValue(ax8y)).toMatchObject({ adapter: 'lora', load_in_8bit: true });
    const plain = plainValue(pyyamlLoad(read(await exportRecipe({ tool: 'llamafactory', name: 'fp' }), 'llamafactory.yaml'))) as Record<string, unknown>;
    expect(plain.quantization_bit).toBeUndefined();
  });

  it('the parameters are the Train tab’s run settings (same defaults as train.run)', () => {
    const p = RecipeParams.parse({ projectId: 1, tool: 'axolotl', model: 'x' });
    expect(p).toMatchObject({
      method: 'plain',
      template: 'alpaca',
      lora: { rank: 8, alpha: 16, dropout: 0.05, targetModules: ['q', 'v'] },
      lr: 3e-4,
      maxSteps: 100,
      batchSize: 4,
      gradAccumSteps: 1,
      maxLength: 256,
      zeroStage: 2,
      precision: 'bf16',
      allowMethodDowngrade: false,
    });
  });
});

describe('PyYAML cross-check', () => {
  it.skipIf(!pythonYamlAvailable())('the real PyYAML (yaml.safe_load, as both tools load their YAML) types every recipe the same', async () => {
    const recipes = [
      await exportRecipe({ tool: 'llamafactory', lr: 2e-7, lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q'] }, name: 'yes' }),
      await exportRecipe({ tool: 'axolotl', template: 'plain', epochs: 0.5, model: '/models/Qwen2.5-7B: base' }),
      await exportRecipe({ tool: 'axolotl', template: 'chat', chatTemplate: 'llama3', method: 'replay', selectionId }),
    ];
    const files = recipes.map((r) => join(r.folder, r.files.find((f) => f.endsWith('.yaml'))!));
    const python = pythonTypes(files);
    files.forEach((f, i) => expect(python[i], f).toEqual(pyyamlLoad(readFileSync(f, 'utf8'))));
    expect(plainValue(python[0]!)).toMatchObject({ learning_rate: 2e-7, lora_dropout: 0, output_dir: 'saves/llamafactory-yes' });
    // JSON and YAML 1.2 would write 2e-7, which PyYAML reads as a string
    expect(readFileSync(files[0]!, 'utf8')).toMatch(/^learning_rate: 2\.0e-7$/m);
    expect(plainValue(python[1]!)).toMatchObject({ base_model: '/models/Qwen2.5-7B: base', num_epochs: 0.5 });
  });
});

describe('safetune export-recipe', () => {
  it('exports with the train command’s options and prints where; refuses a method the tool lacks', async () => {
    const args = [
      'export-recipe',
      '--tool',
      'llamafactory',
      '--project',
      String(projectId),
      '--model',
      'Qwen/Qwen2.5-7B-Instruct',
      '--selection',
      String(selectionId),
      '--workspace',
      s.workspace,
    ];
    {
      const r = await cli([
        ...args,
        '--method',
        'replay',
        '--steps',
        '40',
        '--batch',
        '2',
        '--grad-accum-steps',
        '4',
        '--rank',
        '4',
        '--alpha',
        '8',
        '--targets',
        'q,k,v',
        '--zero',
        '3',
        '--base-quant',
        'q4',
        '--json',
      ]);
      expect(r.code, r.err).toBe(0);
      const out = RecipeResult.parse(JSON.parse(r.out[0]!));
      expect(out).toMatchObject({ method: 'replay', examples: { task: 11, safety: 5, total: 16 } });
      expect(plainValue(pyyamlLoad(readFileSync(join(out.folder, 'llamafactory.yaml'), 'utf8')))).toMatchObject({ quantization_bit: 4 });
      const y = plainValue(pyyamlLoad(readFileSync(join(out.folder, 'llamafactory.yaml'), 'utf8'))) as Record<string, unknown>;
      expect(y).toMatchObject({
        model_name_or_path: 'Qwen/Qwen2.5-7B-Instruct',
        max_steps: 40,
        per_device_train_batch_size: 2,
        gradient_accumulation_steps: 4,
        lora_rank: 4,
        lora_alpha: 8,
        lora_target: 'q_proj,k_proj,v_proj',
        deepspeed: 'ds_z3_config.json',
      });
      const text = await cli([...args, '--method', 'replay']);
      expect(text.code, text.err).toBe(0);
      expect(text.out.join('\n')).toMatch(
        /recipe: .*exports\/llamafactory-project-\d+-replay(-\d+)?\nfiles: .*\nmethod: replay; 16 examples \(11 task \+ 5 safety\)\nlaunch, inside that folder: llamafactory-cli train llamafactory.yaml/,
      );
      const refused = await cli([...args, '--method', 'ewc']);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/LLaMA-Factory has no EWC penalty.*--allow-method-downgrade/);
      const downgraded = await cli([...args, '--method', 'ewc', '--allow-method-downgrade']);
      expect(downgraded.code, downgraded.err).toBe(0);
      expect(downgraded.out.join('\n')).toMatch(/method: replay \(requested ewc, downgraded\)/);
      const noTool = await cli(['export-recipe', '--project', '1', '--model', 'x']);
      expect(noTool.code).toBe(1);
      expect(noTool.err).toMatch(/--tool must be one of llamafactory, axolotl/);
    }
  });

  it('reads the run settings as safetune train does, from the training-method table: each method’s own options, the same settings flags', async () => {
    const recipe = exportRecipeCli();
    const train = trainCli();
    // the methods' lines (ids, descriptions, their options) are the train command's
    expect(recipe.command.usage.slice(recipe.command.usage.indexOf('    methods'))).toBe(train.command.usage.slice(train.command.usage.indexOf('    methods')));
    for (const flag of [
      '--lr',
      '--steps',
      '--batch',
      '--grad-accum-steps',
      '--warmup-steps',
      '--max-length',
      '--seed',
      '--rank',
      '--alpha',
      '--targets',
      '--dropout',
      '--selection',
      '--template',
    ]) {
      expect(recipe.command.usage, flag).toContain(`[${flag} `);
      expect(train.command.usage, flag).toContain(`[${flag} `);
    }
    // checkpoints are the recipe's own (four a run)
    expect(recipe.command.usage).not.toContain('--checkpoint-every');
    const args = ['--tool', 'axolotl', '--project', String(projectId), '--model', 'x/y', '--selection', String(selectionId)];
    expect(recipe.params([...args, '--method', 'replay', '--replay-ratio', '2', '--dropout', '0.1']).params).toMatchObject({
      method: 'replay',
      methodParams: { replayRatio: 2 },
      lora: { dropout: 0.1 },
    });
    expect(recipe.params([...args, '--method', 'der', '--der-alpha', '1']).params.methodParams).toEqual({ alpha: 1, topK: 16, bufferBatch: 4 });
    expect(() => recipe.params([...args, '--method', 'replay', '--der-alpha', '1'])).toThrow(
      /--der-alpha is a parameter of der, der\+\+, not of replay \(it takes --replay-ratio, --shuffle-mix\)/,
    );
    expect(() => recipe.params([...args, '--method', 'replay', '--replay-ratio', '11'])).toThrow(/methodParams\.replayRatio/);
    expect(() => recipe.params([...args.slice(0, 6), '--method', 'ewc'])).toThrow(/--method ewc needs --selection ID/);
    // through the command: the ratio reaches the mix (2 safety examples per task example)
    const r = await cli(['export-recipe', ...args, '--method', 'replay', '--replay-ratio', '2', '--workspace', s.workspace, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(RecipeResult.parse(JSON.parse(r.out[0]!)).examples).toEqual({ task: 11, safety: 22, total: 33 });
  });
});
