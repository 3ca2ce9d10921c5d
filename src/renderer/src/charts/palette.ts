/**
 * Categorical colours that people with the common colour-vision deficiencies can tell apart.
 *
 * The first eight are Okabe & Ito's scheme ("Color Universal Design", 2008), with its black moved
 * last (it reads as "no data"); the next six are from Paul Tol's "muted" scheme (indigo, teal,
 * olive, rose, wine, purple: https://personal.sron.nl/~pault/#sec:qualitative), which keeps its
 * colours distinct from each other under deuteranopia, protanopia and tritanopia and differs in
 * lightness from the Okabe–Ito ones next to it. Fourteen in all: one per BeaverTails harm
 * category. Past 14 colours repeat; charts should say so in their legend.
 */
export const CATEGORICAL = [
  '#E69F00', // orange (Okabe–Ito)
  '#56B4E9', // sky blue
  '#009E73', // bluish green
  '#F0E442', // yellow
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#CC79A7', // reddish purple
  '#332288', // indigo (Tol muted)
  '#44AA99', // teal
  '#999933', // olive
  '#CC6677', // rose
  '#882255', // wine
  '#AA4499', // purple
  '#000000', // black (Okabe–Ito)
] as const;

/** For "none"/"unknown": a light grey that no palette colour is near. */
export const NO_DATA = '#BBBBBB';

export function categorical(i: number): string {
  return CATEGORICAL[((i % CATEGORICAL.length) + CATEGORICAL.length) % CATEGORICAL.length]!;
}
