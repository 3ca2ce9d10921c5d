/**
 * The sweep curve's data (pure): per α of a coefficient sweep its attack success and over-refusal
 * with their 95% Wilson intervals (as the evaluation computed them), placed against the task score
 * — or against α itself when the sweep's suites give no task score.
 */
import type { Rate } from '../../../../shared/eval';
import type { MergeSweep } from '../../../../shared/merge';

export interface CurvePoint {
  alpha: number;
  /** the horizontal position: the task score, or α when the curve is drawn against α */
  x: number;
  /** the task score's interval (null when drawn against α) */
  xLow: number | null;
  xHigh: number | null;
  attackSuccess: Rate;
  overRefusal: Rate;
}

export interface SweepCurve {
  /** 'task': against the task score; 'alpha': the sweep's suites have no task suite */
  axis: 'task' | 'alpha';
  points: CurvePoint[];
  /** α whose evaluation has not finished (not drawn) */
  pending: number[];
}

/** The evaluated points of a sweep, in α order. */
export function sweepCurve(sweep: MergeSweep): SweepCurve {
  const done = sweep.points.filter((p) => p.summary !== null).sort((a, b) => a.alpha - b.alpha);
  const axis = done.length > 0 && done.every((p) => p.summary!.task.rate !== null) ? 'task' : 'alpha';
  return {
    axis,
    points: done.map((p) => {
      const s = p.summary!;
      return {
        alpha: p.alpha,
        x: axis === 'task' ? s.task.rate! : p.alpha,
        xLow: axis === 'task' ? s.task.low : null,
        xHigh: axis === 'task' ? s.task.high : null,
        attackSuccess: s.attackSuccess,
        overRefusal: s.overRefusal,
      };
    }),
    pending: sweep.points.filter((p) => p.summary === null).map((p) => p.alpha),
  };
}

/** The horizontal range drawn: [0, 1] for a task score; α's span (at least 1 wide) otherwise. */
export function xDomain(curve: SweepCurve): [number, number] {
  if (curve.axis === 'task' || curve.points.length === 0) return [0, 1];
  const xs = curve.points.map((p) => p.x);
  const lo = Math.min(0, ...xs);
  const hi = Math.max(lo + 1, ...xs);
  return [lo, hi];
}
