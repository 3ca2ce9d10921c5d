/**
 * The access policy applied to job parameters: every path a job reads is checked, the outputs the
 * app writes are placed by the app, and HTTP model specs are tied to a configured server. One case
 * per job type, so a new job type does not compile until it says what it touches.
 */
import { basename, dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { ModelSpec } from '../../shared/eval';
import { AppError } from '../../shared/errors';
import type { JobSpec } from '../../shared/jobs';
import type { MergeConfig, MergeModelRef } from '../../shared/merge';
import { paramFields } from '../../shared/methods/table';
import { trainMethodRow } from '../../shared/train';
import { canonicalPath } from './paths';
import type { AccessPolicy } from './policy';
import { claimNewFolder, safeStem } from '../util/newFiles';

/**
 * `start`: a job about to be queued — checks its reads and returns the parameters to queue (app-chosen
 * outputs filled in, caller API keys dropped). `resume`: a stored job about to run again — the same
 * checks against today's grants, and its outputs must lie in the app's write folders.
 */
export function confineJob(spec: JobSpec, a: AccessPolicy, mode: 'start' | 'resume'): JobSpec {
  const read = (path: string, what: string) => void a.readable(path, what);
  const readOptional = (path: string | undefined, what: string) => path !== undefined && read(path, what);
  switch (spec.type) {
    case 'file.checksum':
      read(spec.params.path, 'the file to fingerprint');
      return spec;
    case 'data.import':
      read(spec.params.path, 'the file to import');
      return spec;
    case 'data.screen':
      // reads only the store and the shipped detectors: no path to confine
      return spec;
    case 'data.analyse': {
      const p = spec.params;
      readOptional(p.referenceDir, 'the reference prompts folder');
      readOptional(p.embedderPath, 'the sentence encoder folder');
      // a model judge reads its model, or calls only a configured server (with that server's stored key)
      const judgeModel = p.judgeModel && confineModel(p.judgeModel, a, 'the judge model');
      return judgeModel ? { type: 'data.analyse', params: { ...p, judgeModel } } : spec;
    }
    case 'select.run':
      readOptional(spec.params.referenceDir, 'the reference prompts folder');
      readOptional(spec.params.embedderPath, 'the sentence encoder folder');
      return spec;
    case 'model.inspect':
      read(spec.params.path, 'the model');
      return spec;
    case 'engine.generate':
      read(spec.params.modelPath, 'the model');
      readOptional(spec.params.adapterPath, 'the LoRA adapter');
      return spec;
    case 'train.run': {
      const p = spec.params;
      read(p.modelPath, 'the model');
      readOptional(p.poison?.file, 'the poison file');
      // a path among the method's parameters (SafeLoRA's base model) is read too
      for (const f of paramFields(trainMethodRow(p.method).params)) {
        const v = p.methodParams[f.key];
        if (f.path && typeof v === 'string') read(v, f.title.toLowerCase());
      }
      // a full-parameter run writes the trained model: the job names a new folder in models/ itself
      if (p.outPath === undefined) return spec;
      if (mode === 'start') {
        throw new AppError('forbidden', `The app chooses where a trained model is written (a new folder in ${a.modelsDir}): leave outPath out`, {
          outPath: p.outPath,
        });
      }
      if (!a.canWrite(canonicalPath(p.outPath, 'the trained model'))) {
        throw new AppError(
          'forbidden',
          `This training run writes ${p.outPath}, outside the workspace's models folder: resume it from the safetune CLI, or start a new run here`,
          { outPath: p.outPath },
        );
      }
      return spec;
    }
    case 'train.preflight':
      read(spec.params.modelPath, 'the model');
      return spec;
    case 'eval.run': {
      const p = spec.params;
      for (const s of p.suites) {
        // built-in suites read files one folder down (harmful/advbench_harmful_behaviors.csv …)
        if ('builtin' in s) void a.readable(s.dataDir, 'the suite data folder', { depth: 2 });
        else if ('file' in s) read(s.file, 'the suite file');
        // an imported data set is read from the store: no path to confine
      }
      readOptional(p.referenceDir, 'the reference prompts folder');
      const model = confineModel(p.model, a, 'the model');
      const guardModel = p.guardModel && confineModel(p.guardModel, a, 'the judge model');
      return { type: 'eval.run', params: { ...p, model, ...(guardModel ? { guardModel } : {}) } };
    }
    case 'model.merge': {
      const p = spec.params;
      read(p.modelPath, 'the base model');
      read(p.adapterPath, 'the LoRA adapter');
      if (mode === 'resume') {
        if (p.outPath === undefined || !a.canWrite(canonicalPath(p.outPath, 'the merged model'))) {
          throw new AppError(
            'forbidden',
            `This merge writes ${p.outPath ?? '(no output path)'}, outside the workspace's models folder: resume it from the safetune CLI, or start a new merge here`,
            { outPath: p.outPath },
          );
        }
        return spec;
      }
      if (p.outPath !== undefined) {
        throw new AppError('forbidden', `The app chooses where a merged model is written (a new folder in ${a.modelsDir}): leave outPath out`, {
          outPath: p.outPath,
        });
      }
      return { type: 'model.merge', params: { ...p, outPath: mergedModelPath(a, p.modelPath, p.adapterPath) } };
    }
    case 'merge.run': {
      const p = spec.params;
      confineMergeReads(p.config, a);
      return { type: 'merge.run', params: { ...p, outPath: confineMergeOutput(p.outPath, a, mode, p.config) } };
    }
    default: {
      const unknown: never = spec;
      throw new AppError('unsupported', `No access rule for job type ${(unknown as { type: string }).type}`);
    }
  }
}

/** Engine models are read paths; HTTP models must name a configured server (the caller's API key is dropped). */
export function confineModel(spec: ModelSpec, a: AccessPolicy, what: string): ModelSpec {
  if (spec.kind === 'engine') {
    a.readable(spec.path, what);
    if (spec.adapterPath !== undefined) a.readable(spec.adapterPath, 'the LoRA adapter');
    return spec;
  }
  const endpoint = a.allowedEndpoint(spec.baseUrl);
  return {
    kind: 'http',
    baseUrl: endpoint.baseUrl,
    model: spec.model,
    endpointId: endpoint.id,
    ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
  };
}

/**
 * A new folder in the workspace's models/ named after the base model and the adapter's run
 * (`models/stories260K+train-3/`), holding `merged.gguf` for a GGUF base or the `merged/`
 * Hugging Face folder. The folder is created now, so two merges never share it.
 */
function mergedModelPath(a: AccessPolicy, modelPath: string, adapterPath: string): string {
  const model = basename(modelPath).replace(/\.gguf$/i, '');
  const adapter = basename(adapterPath) === 'adapter' ? basename(dirname(adapterPath)) : basename(adapterPath);
  const folder = claimNewFolder(a.modelsDir, safeStem(`${model}+${adapter}`, 'merged-model'));
  return join(folder, /\.gguf$/i.test(modelPath) ? 'merged.gguf' : 'merged');
}

/** Checks every model and adapter a merge reads (labelled "base", "model 1" … in messages). */
export function confineMergeReads(c: MergeConfig, a: AccessPolicy): void {
  const refs: [string, MergeModelRef][] = [
    ...(c.base ? [['base', c.base] as [string, MergeModelRef]] : []),
    ...c.models.map((m, i): [string, MergeModelRef] => [`model ${i + 1}`, m.model]),
  ];
  for (const [label, ref] of refs) {
    a.readable(ref.modelPath, `the model to merge (${label})`);
    if (ref.adapterPath !== undefined) a.readable(ref.adapterPath, `the LoRA adapter of the model to merge (${label})`);
  }
}

/**
 * Where a `merge.run` writes. Started from the app: a new folder in the workspace's models/ named
 * after the merge (`models/ties+stories260K/merged.gguf`, in the base model's format), or the
 * caller's path when it is a new name directly in models/. Resumed: only inside the app's folders.
 */
export function confineMergeOutput(outPath: string | undefined, a: AccessPolicy, mode: 'start' | 'resume', config: MergeConfig): string {
  if (outPath === undefined) {
    if (mode === 'resume') throw new AppError('invalid_input', 'This merge has no output path: start it again');
    const from = (config.base ?? config.models[0]!.model).modelPath;
    const stem = safeStem(`${config.method}+${basename(from).replace(/\.gguf$/i, '')}`, 'merged-model');
    return join(claimNewFolder(a.modelsDir, stem), /\.gguf$/i.test(from) ? 'merged.gguf' : 'merged');
  }
  const real = canonicalPath(outPath, 'the merged model');
  if (mode === 'resume') {
    if (!a.canWrite(real))
      throw new AppError(
        'forbidden',
        `This merge writes ${outPath}, outside the workspace's models folder: resume it from the safetune CLI, or start a new merge here`,
        { outPath },
      );
    return outPath;
  }
  const name = basename(real);
  if (dirname(real) !== canonicalPath(a.modelsDir) || safeStem(name, '') !== name) {
    throw new AppError(
      'forbidden',
      `A merged model is written to a new name directly in ${a.modelsDir} (letters, digits, . _ + -): leave outPath out to let the app choose one`,
      { outPath },
    );
  }
  if (existsSync(real)) throw new AppError('conflict', `${real} already exists: choose a new name (a merge never overwrites)`, { outPath });
  return real;
}
