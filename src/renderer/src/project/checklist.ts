/**
 * The project's checklist of next steps (import a safety pool and task data → analyse → select →
 * train → evaluate base and fine-tuned → compare), each done or not from the project's real state,
 * with the tab that does it. A pool whose every record's type is recorded (from its file, or by a
 * person) counts as analysed. Pure: NextSteps.tsx loads the state.
 */
export interface ProjectState {
  datasets: readonly { role: string; state: string; embedderId: string | null; accepted: number; recordedTypes: number }[];
  savedSelections: number;
  finishedTrainRuns: number;
  /** Evaluation runs with results: whether each evaluated an adapter. */
  evalRuns: readonly { results: number; adapter: boolean }[];
}

export interface Step {
  id: string;
  label: string;
  tab: 'data' | 'select' | 'train' | 'evaluate' | 'compare';
  done: boolean;
}

export function checklist(s: ProjectState): Step[] {
  const ready = (role: string) => s.datasets.filter((d) => d.role === role && d.state === 'ready');
  // typed without Analyse: every record's type recorded in the file (or corrected by a person)
  const typed = (d: ProjectState['datasets'][number]) => d.embedderId !== null || (d.accepted > 0 && d.recordedTypes === d.accepted);
  const evaluated = (adapter: boolean) => s.evalRuns.some((r) => r.results > 0 && r.adapter === adapter);
  return [
    { id: 'pool', label: 'Import a safety pool', tab: 'data', done: ready('safety_pool').length > 0 },
    { id: 'task', label: 'Import task data', tab: 'data', done: ready('task').length > 0 },
    { id: 'analyse', label: 'Analyse the safety pool', tab: 'data', done: ready('safety_pool').some(typed) },
    { id: 'select', label: 'Select and save safety examples', tab: 'select', done: s.savedSelections > 0 },
    { id: 'train', label: 'Fine-tune with a safety method', tab: 'train', done: s.finishedTrainRuns > 0 },
    { id: 'evaluate-tuned', label: 'Evaluate the fine-tuned run', tab: 'evaluate', done: evaluated(true) },
    { id: 'evaluate-base', label: 'Evaluate the base model alone', tab: 'evaluate', done: evaluated(false) },
    { id: 'compare', label: 'Compare base against fine-tuned', tab: 'compare', done: evaluated(true) && evaluated(false) },
  ];
}
