/** Axis ticks at "nice" numbers (1, 2, 2.5 or 5 × a power of ten) and tidy tick labels. */

/** Values within this of zero are float noise (1 − 0.9 − 0.1) and print as 0. */
export const ZERO_EPSILON = 1e-9;

export function cleanZero(v: number): number {
  return Math.abs(v) < ZERO_EPSILON ? 0 : v;
}

/**
 * The tick step for about `count` intervals over [min, max]: 1, 2, 2.5 or 5 times a power of ten;
 * for a whole-number axis (steps), a whole number of 1, 2 or 5 times a power of ten.
 */
export function niceStep(min: number, max: number, count = 5, integer = false): number {
  const span = Math.abs(max - min);
  if (!(span > 0) || !Number.isFinite(span)) return 0;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag - 1e-9; // 0.2 / 0.1 is 2.0000000000000004
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 && !integer ? 2.5 : f <= 5 ? 5 : 10;
  return integer ? Math.max(1, nice * mag) : nice * mag;
}

/** Whole-number ticks from 0 up to `max` (a step axis), at a nice whole step, none past `max`. */
export function integerTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const step = niceStep(0, max, count, true);
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}

/**
 * Ticks covering [min, max] (the first at or below min, the last at or above max) at a nice step,
 * so the axis runs from ticks[0] to ticks.at(-1). A flat series gets one tick either side.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, 2);
  }
  const step = niceStep(min, max, count);
  const start = Math.floor(min / step + 1e-9);
  const end = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = start; i <= end; i++) ticks.push(cleanZero(Number((i * step).toPrecision(12))));
  return ticks;
}

/** A tick label with the decimals the step needs ("0.25", "1.5", "20"), never "-0". */
export function tickLabel(v: number, step: number): string {
  const decimals = step > 0 ? Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9) + (isHalfStep(step) ? 1 : 0))) : 2;
  const s = cleanZero(v).toFixed(decimals);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

/** 2.5 × 10^k steps need one more decimal than the power of ten says (0.25, 2.5). */
function isHalfStep(step: number): boolean {
  const f = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
  return Math.abs(f - 2.5) < 1e-6;
}
