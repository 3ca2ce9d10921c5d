/** Replay / SafeInstr: mix safety examples into the task data (a pure, seeded function). */
import type { TrainExample } from '../data';
import { Rng } from '../rng';

export interface ReplayMixOptions {
  /** replay examples per task example (e.g. 0.1 adds 10% of the task size) */
  ratio?: number;
  /** or a fixed number of replay examples */
  count?: number;
  seed?: number;
}

export interface ReplayMix {
  examples: TrainExample[];
  /** true where the example came from the replay set */
  isReplay: boolean[];
}

/**
 * Task examples followed by replay examples drawn without replacement (with replacement only when
 * more are asked for than exist). The trainer shuffles the mix every epoch.
 */
export function mixReplay(task: TrainExample[], replay: TrainExample[], opts: ReplayMixOptions): ReplayMix {
  if ((opts.ratio === undefined) === (opts.count === undefined)) throw new Error('mixReplay: give exactly one of ratio or count');
  const n = opts.count ?? Math.round((opts.ratio ?? 0) * task.length);
  if (!(n >= 0) || !Number.isInteger(n)) throw new Error(`mixReplay: invalid replay count ${n}`);
  if (n > 0 && replay.length === 0) throw new Error('mixReplay: the replay set is empty');
  const rng = new Rng(opts.seed ?? 0);
  const picked: TrainExample[] = [];
  while (picked.length < n) {
    const order = rng.shuffle([...replay.keys()]);
    for (const i of order.slice(0, n - picked.length)) picked.push(replay[i]!);
  }
  return { examples: [...task, ...picked], isReplay: [...task.map(() => false), ...picked.map(() => true)] };
}
