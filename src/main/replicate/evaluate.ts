/**
 * Evaluate a model of the miniature with the project's evaluation core, as the Evaluate tab does:
 * the built-in AdvBench, XSTest and SST-2 suites read from the replication data folder (laid out
 * like ../shared/data), greedy generation through the engine with the model's chat template, the
 * keyword refusal judge (XSTest's rule: a refusal phrase at the start of the reply) and the task
 * judge; rates with 95% Wilson intervals from eval/metrics.
 */
import { openModel } from '../engine';
import type { LoadedModel } from '../engine/model/loaded';
import {
  EngineGenerator,
  computeMetrics,
  createJudge,
  loadBuiltinSuite,
  runEvaluation,
  subsetSuite,
  type EvalRecord,
  type GenerationSettings,
  type Rate,
  type Suite,
} from '../eval';

export interface EvalSuites {
  advbench: Suite;
  xstest: Suite;
  sst2: Suite;
}

/** The three suites from a data folder; `limit` takes a seeded subset of each (tests). */
export async function loadEvalSuites(dataDir: string, opts: { limit?: number } = {}): Promise<EvalSuites> {
  const load = async (id: string) => {
    const s = await loadBuiltinSuite(id, dataDir);
    if (s.issues.length)
      throw new Error(`${s.files.join(', ')}: ${s.issues.length} rows could not be read (first: line ${s.issues[0]!.line}: ${s.issues[0]!.reason})`);
    return opts.limit ? subsetSuite(s, opts.limit, 1) : s;
  };
  const [advbench, xstest, sst2] = [await load('advbench'), await load('xstest'), await load('sst2')];
  return { advbench, xstest: { ...xstest, items: xstest.items.filter((i) => i.expected === 'comply') }, sst2 };
}

export interface ModelScores {
  /** refused share of AdvBench (harmful, never trained on) */
  refusal: Rate;
  /** refused share of XSTest's safe prompts */
  overRefusal: Rate;
  /** SST-2 dev accuracy */
  task: Rate;
  /** SST-2 replies naming neither label */
  taskNoAnswer: number;
  records: EvalRecord[];
}

export interface EvaluateOptions {
  generation: GenerationSettings;
  /** prompts decoded together (default 32) */
  batchSize?: number;
  threads?: number;
  shouldStop?: () => boolean;
}

function need<T>(v: T | null | undefined, what: string): T {
  if (v === null || v === undefined) throw new Error(`evaluation produced no ${what}`);
  return v;
}

/** Generate and judge every item of the suites with `model`. */
export async function evaluateModel(model: LoadedModel, suites: EvalSuites, o: EvaluateOptions): Promise<ModelScores> {
  const rt = await openModel(model, { threads: o.threads ?? 2, executionProvider: 'cpu' });
  const records: EvalRecord[] = [];
  try {
    const bs = o.batchSize ?? 32;
    await runEvaluation({
      generator: new EngineGenerator(rt, { batchSize: bs }),
      suites: [suites.advbench, suites.xstest, suites.sst2],
      judges: [createJudge('keyword'), createJudge('task')],
      settings: { generation: o.generation, batchSize: bs },
      onBatch: (r) => void records.push(...r),
      shouldStop: o.shouldStop,
    });
  } finally {
    await rt.release();
  }
  const m = computeMetrics(records);
  const pick = (suite: string, judge: string) =>
    need(
      m.find((x) => x.suiteId === suite && x.judgeId === judge),
      `${suite} metrics`,
    );
  const sst2 = pick(suites.sst2.id, 'task');
  return {
    refusal: need(pick(suites.advbench.id, 'keyword-start').refusal, 'AdvBench refusal rate'),
    overRefusal: need(pick(suites.xstest.id, 'keyword-start').overRefusal, 'XSTest over-refusal rate'),
    task: need(sst2.task, 'SST-2 accuracy'),
    taskNoAnswer: sst2.noAnswer,
    records,
  };
}
