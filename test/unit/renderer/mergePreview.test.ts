/**
 * The Merge tab's preview figures: output size, peak memory and free disk, and a warning only when
 * the output does not fit the free disk. Rendered to static markup (no DOM).
 */
import { createElement as h } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { MergePlanFigures } from '../../../src/renderer/src/project/merge/MergePlanFigures';
import type { MergePlanSummary } from '../../../src/shared/merge';

const MiB = 2 ** 20;
const plan: MergePlanSummary = {
  format: 'hf',
  tensors: 201,
  bytesRead: 6600 * MiB,
  outputBytes: 2200 * MiB,
  largestTensorBytes: 125 * MiB,
  largestTensorElements: 65_536_000,
  threads: 2,
  bufferBytes: 256 * MiB,
  peakMemoryBytes: 426 * MiB,
  freeBytes: 70 * 1024 * MiB,
};
const text = (html: string) => html.replace(/<[^>]+>/g, '');

describe('the merge preview', () => {
  it('shows the output size, peak memory and free disk, with no warning when the output fits', () => {
    const html = renderToStaticMarkup(h(MergePlanFigures, { plan }));
    expect(text(html)).toContain('Output: 2.15 GiB (Hugging Face folder, 201 tensors, 6.45 GiB read from the inputs)');
    expect(text(html)).toContain('Peak memory: about 426.0 MiB (2 threads, buffers 256.0 MiB)');
    expect(text(html)).toContain('Free disk: 70.00 GiB');
    expect(html).not.toContain('role="alert"');
  });

  it('warns when the output is larger than the free disk', () => {
    const html = renderToStaticMarkup(h(MergePlanFigures, { plan: { ...plan, freeBytes: 1000 * MiB } }));
    expect(html).toContain('role="alert"');
    expect(text(html)).toContain('The merged model needs 2.15 GiB but only 1000.0 MiB is free');
    expect(renderToStaticMarkup(h(MergePlanFigures, { plan: { ...plan, freeBytes: null } }))).not.toContain('role="alert"');
  });
});
