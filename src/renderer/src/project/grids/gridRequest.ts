/**
 * The experiment-grid form's state and the `experiment.start` request it makes: each chosen training
 * method × each budget is an arm (a method that uses no safety examples is one arm, without a
 * budget), run at each seed. Budgets are counts ("10") or shares of the task data ("5%").
 */
import type { ExperimentArmInput, ExperimentRequestInput } from '../../../../shared/experiments';
import { trainMethodRow, type TrainMethod } from '../../../../shared/train';

export interface GridForm {
  name: string;
  modelPath: string;
  methods: TrainMethod[];
  selectionMethod: string;
  /** "1, 3" or "1%, 5%" */
  budgets: string;
  /** "1, 2" */
  seeds: string;
  steps: number;
  /** imported evaluation data sets used as suites */
  datasetIds: number[];
  /** items per suite */
  limit: number;
  maxNewTokens: number;
}

type Budget = { count: number } | { fraction: number };

/** The budgets typed, or the first one that is not a count or a percentage. */
export function parseBudgets(text: string): { budgets: Budget[] } | { error: string } {
  const budgets: Budget[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const pc = /^(\d+(?:\.\d+)?)\s*%$/.exec(part);
    if (pc && Number(pc[1]) > 0 && Number(pc[1]) <= 100) budgets.push({ fraction: Number(pc[1]) / 100 });
    else if (/^\d+$/.test(part) && Number(part) > 0) budgets.push({ count: Number(part) });
    else return { error: `"${part}" is not a count or a percentage (e.g. 10 or 5%)` };
  }
  return budgets.length ? { budgets } : { error: 'give at least one budget (e.g. 10, 50 or 1%, 5%)' };
}

/** The seeds typed, or why not. */
export function parseSeeds(text: string): { seeds: number[] } | { error: string } {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) return { error: 'seeds are whole numbers separated by commas (e.g. 1, 2, 3)' };
  return { seeds: parts.map(Number) };
}

const budgetName = (b: Budget) => ('count' in b ? String(b.count) : `${+(100 * b.fraction).toFixed(2)}%`);

/** The arms: per method, one per budget when it uses a selection of safety examples, else one. */
export function gridArms(form: Pick<GridForm, 'methods' | 'selectionMethod' | 'steps'>, budgets: Budget[]): ExperimentArmInput[] {
  return form.methods.flatMap((method): ExperimentArmInput[] => {
    const train = { method, maxSteps: form.steps };
    if (!trainMethodRow(method).safety) return [{ name: method, train }];
    return budgets.map((budget) => ({
      name: `${method} · ${form.selectionMethod} ${budgetName(budget)}`,
      train,
      selection: { method: form.selectionMethod, budget },
    }));
  });
}

/** The request, or the first thing the form still needs. */
export function gridRequest(projectId: number, form: GridForm): { request: ExperimentRequestInput } | { error: string } {
  if (!form.modelPath) return { error: 'choose a model' };
  if (form.methods.length === 0) return { error: 'choose at least one training method' };
  if (form.datasetIds.length === 0) return { error: 'choose at least one evaluation data set (import harmful or benign evaluation prompts in the Data tab)' };
  const b = parseBudgets(form.budgets);
  if ('error' in b) return b;
  const s = parseSeeds(form.seeds);
  if ('error' in s) return s;
  return {
    request: {
      projectId,
      ...(form.name.trim() ? { name: form.name.trim() } : {}),
      modelPath: form.modelPath,
      arms: gridArms(form, b.budgets),
      seeds: s.seeds,
      eval: { suites: form.datasetIds.map((dataset) => ({ dataset })), limit: form.limit, sampling: { maxNewTokens: form.maxNewTokens, temperature: 0 } },
    },
  };
}
