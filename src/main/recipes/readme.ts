/** README.txt of a recipe folder: what is in it, how to launch it, how to bring the adapter back. */
import { RECIPE_METHOD_GAPS, RECIPE_TOOL_LABELS, type RecipeMethod, type RecipeParams } from '../../shared/recipes';
import { TrainMethod } from '../../shared/train';
import { MIX_FILE, README_FILE } from './common';
import { deepspeedFile } from './deepspeed';
import { AXOLOTL_YAML } from './axolotl';
import { DATASET_INFO_FILE, LLAMAFACTORY_YAML } from './llamafactory';
import { replayRatio } from './mix';

export interface ReadmeInput {
  params: RecipeParams;
  runName: string;
  method: RecipeMethod;
  methodNote: string | null;
  /** "project 3 (Support bot)" */
  project: string;
  /** 'selection 7 "sss-b 200"' or null */
  selection: string | null;
  examples: { task: number; safety: number; total: number };
  notes: string[];
  createdAt: string;
}

const wrap = (text: string, indent = '  ') => {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > 96) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? `${indent}- ${l}` : `${indent}  ${l}`)).join('\n');
};

function launch(p: RecipeParams): string[] {
  const other = deepspeedFile(p.zeroStage === 2 ? 3 : 2);
  if (p.tool === 'llamafactory') {
    return [
      '  pip install "llamafactory[torch,metrics,deepspeed]"        (once, on the cluster)',
      `  llamafactory-cli train ${LLAMAFACTORY_YAML}                   (one GPU)`,
      `  FORCE_TORCHRUN=1 llamafactory-cli train ${LLAMAFACTORY_YAML}  (every GPU of this node)`,
      `  FORCE_TORCHRUN=1 NNODES=2 NODE_RANK=0 MASTER_ADDR=<node 0> MASTER_PORT=29500 llamafactory-cli train ${LLAMAFACTORY_YAML}`,
      '      (run on each node with its NODE_RANK)',
      `  DeepSpeed: the YAML names ${deepspeedFile(p.zeroStage)}; for ZeRO-${p.zeroStage === 2 ? 3 : 2} append deepspeed=${other} to the command.`,
    ];
  }
  return [
    '  pip install "axolotl[deepspeed]"                              (once, on the cluster)',
    `  accelerate launch -m axolotl.cli.train ${AXOLOTL_YAML}`,
    `      (or the newer CLI: axolotl train ${AXOLOTL_YAML}; several nodes: see Axolotl's docs/multi-node.qmd)`,
    `  DeepSpeed: the YAML names ${deepspeedFile(p.zeroStage)}; for ZeRO-${p.zeroStage === 2 ? 3 : 2} add --deepspeed=${other} to the command.`,
  ];
}

export function recipeReadme(r: ReadmeInput): string {
  const p = r.params;
  const tool = RECIPE_TOOL_LABELS[p.tool];
  const out = p.tool === 'llamafactory' ? `saves/${r.runName}` : `outputs/${r.runName}`;
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  const mix =
    r.method === 'replay'
      ? `${n(r.examples.total, 'row')}: ${n(r.examples.task, 'task example')} + ${n(r.examples.safety, 'safety example')} of ${r.selection}, ${replayRatio(p) !== undefined ? `${replayRatio(p)} per task example` : 'every selected example once'}; shuffled with seed ${p.seed}`
      : `${n(r.examples.total, 'task example')}, shuffled with seed ${p.seed}`;
  const file = (name: string, what: string) => `  ${name.padEnd(22)} ${what}`;
  const files =
    p.tool === 'llamafactory'
      ? [file(LLAMAFACTORY_YAML, 'the training configuration'), file(DATASET_INFO_FILE, 'declares the mix (alpaca format) for dataset_dir: .')]
      : [file(AXOLOTL_YAML, 'the training configuration')];
  const gaps = TrainMethod.options.filter((m) => RECIPE_METHOD_GAPS[p.tool][m] !== null).map((m) => wrap(`${m}: ${RECIPE_METHOD_GAPS[p.tool][m]}.`));
  return [
    `SafeTune Workbench: ${tool} recipe "${r.runName}"`,
    '',
    `Exported ${r.createdAt} from ${r.project}. Base model: ${p.model}.`,
    `Method: ${r.method === 'replay' ? 'replay (the safety selection mixed into the training data)' : 'plain LoRA fine-tuning'}.`,
    ...(r.methodNote ? [r.methodNote] : []),
    `LoRA rank ${p.lora.rank}, alpha ${p.lora.alpha}, dropout ${p.lora.dropout} on ${p.lora.targetModules.join(', ')}; learning rate ${p.lr}, ${p.epochs !== undefined ? `${p.epochs} epochs` : `${p.maxSteps} steps`}, batch ${p.batchSize} × ${p.gradAccumSteps}, max length ${p.maxLength} tokens, ${p.template} prompt format.`,
    '',
    'Files',
    ...files,
    file(MIX_FILE, `the training mix: ${mix}`),
    file(deepspeedFile(2), 'DeepSpeed ZeRO-2 (optimiser states and gradients sharded; enough for LoRA on most models)'),
    file(deepspeedFile(3), 'DeepSpeed ZeRO-3 (the frozen weights sharded too; for models one GPU cannot hold)'),
    file(README_FILE, 'this file'),
    '',
    'Launch (inside this folder, with the base model reachable as named above)',
    ...launch(p),
    '',
    'Bring the adapter back',
    wrap(
      `The LoRA adapter is written to ${out}/ (adapter_config.json + adapter_model.safetensors; checkpoints in checkpoint-N/ below it). Copy that folder to the workbench machine and grant it in Settings → Folders & servers.`,
    ),
    wrap(
      'Evaluate it: Evaluate tab → the base model (a local copy: Hugging Face folder or GGUF) with that folder as its LoRA adapter; or `npx safetune eval --model BASE --adapter ADAPTER_DIR --suite advbench --suite xstest --data DATA_DIR`. Export merged model writes base + adapter as a standalone model.',
    ),
    wrap(
      'The workbench loads PEFT LoRA adapters as these tools save them (list or regex target_modules, rsLoRA, rank/alpha patterns, bf16). It refuses DoRA, trained biases, modules_to_save, PiSSA/OLoRA/LoftQ initialisations and adapter_model.bin (a pickle), so keep this recipe’s plain LoRA settings and the default safetensors output.',
    ),
    '',
    'Differences from a workbench run with these settings',
    ...r.notes.map((n) => wrap(n)),
    '',
    `Methods ${tool} does not have`,
    ...gaps,
    wrap(
      `Lisa (lazy safety alignment) and SafeLoRA (projecting LoRA updates onto a safety subspace) are in neither tool nor in the workbench. ${p.tool === 'axolotl' ? 'Axolotl’s lisa_* options are LISA, layerwise importance sampling, an unrelated method with a similar name.' : ''}`.trim(),
    ),
    '',
  ].join('\n');
}
