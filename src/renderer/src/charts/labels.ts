/**
 * Point labels that do not overprint: each label tries eight spots around its point (right, left,
 * above, below and the diagonals), then the same eight a label height further out, and takes the
 * first that overlaps no label placed before it, no other point and stays inside the plot; when
 * none is free it takes the spot with the least overlap (labels weigh more than points).
 * Greedy, in the order given: enough for the tens of runs a comparison holds.
 */

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LabelPoint {
  /** the point's centre and radius, in SVG units */
  x: number;
  y: number;
  r: number;
  text: string;
}

export interface PlacedLabel {
  /** where to draw the text: its anchor point and the baseline */
  x: number;
  y: number;
  anchor: 'start' | 'middle' | 'end';
  /** the box the text covers */
  box: Box;
}

/** Width of a label in an SVG sans-serif font: 0.6 em a character (a slight overestimate). */
export function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6;
}

export function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** The part of a box outside the area. */
function outside(b: Box, area: Box): number {
  return b.w * b.h - overlapArea(b, area);
}

function candidates(p: LabelPoint, w: number, fontSize: number): PlacedLabel[] {
  const gap = 3;
  const h = fontSize;
  const asc = fontSize * 0.8; // baseline below the box top
  const d = (p.r + gap) * Math.SQRT1_2;
  const spot = (x: number, top: number, anchor: PlacedLabel['anchor']): PlacedLabel => {
    const left = anchor === 'start' ? x : anchor === 'end' ? x - w : x - w / 2;
    return { x, y: top + asc, anchor, box: { x: left, y: top, w, h } };
  };
  // the eight spots next to the point, then the same eight one label height further out
  return [0, h].flatMap((o) => {
    const e = o * Math.SQRT1_2;
    return [
      spot(p.x + p.r + gap + o, p.y - h / 2, 'start'), // right
      spot(p.x + d + e, p.y - d - h - e, 'start'), // above right
      spot(p.x + d + e, p.y + d + e, 'start'), // below right
      spot(p.x - p.r - gap - o, p.y - h / 2, 'end'), // left
      spot(p.x - d - e, p.y - d - h - e, 'end'), // above left
      spot(p.x - d - e, p.y + d + e, 'end'), // below left
      spot(p.x, p.y - p.r - gap - h - o, 'middle'), // above
      spot(p.x, p.y + p.r + gap + o, 'middle'), // below
    ];
  });
}

export function placeLabels(points: readonly LabelPoint[], area: Box, fontSize = 11): PlacedLabel[] {
  const dots: Box[] = points.map((p) => ({ x: p.x - p.r, y: p.y - p.r, w: 2 * p.r, h: 2 * p.r }));
  const placed: PlacedLabel[] = [];
  points.forEach((p, i) => {
    const w = textWidth(p.text, fontSize);
    let best: PlacedLabel | null = null;
    let bestCost = Infinity;
    for (const c of candidates(p, w, fontSize)) {
      let cost = outside(c.box, area) * 4;
      for (const q of placed) cost += overlapArea(c.box, q.box) * 2;
      dots.forEach((dot, j) => {
        if (j !== i) cost += overlapArea(c.box, dot);
      });
      if (cost < bestCost) {
        best = c;
        bestCost = cost;
      }
      if (cost === 0) break;
    }
    placed.push(best!);
  });
  return placed;
}
