/**
 * The Train form's mode section is generated from the mode table: LoRA or full-parameter, each with
 * its one line; the LoRA fields only in LoRA mode, the trained-weight groups only in full mode; the
 * choice kept across tab switches. Rendered to static markup (no DOM).
 */
import { createElement as h } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, describe, expect, it } from 'vitest';
import { TRAIN_MODES, TrainableGroup } from '../../../src/shared/train';
import { useMethodChoice } from '../../../src/renderer/src/forms/useMethodChoice';
import { TrainModeSection } from '../../../src/renderer/src/project/train/TrainModeSection';

const stored = new Map<string, string>();
afterEach(() => stored.clear());
(globalThis as { sessionStorage?: unknown }).sessionStorage = {
  getItem: (k: string) => stored.get(k) ?? null,
  setItem: (k: string, v: string) => stored.set(k, v),
};

let n = 0;
const freshProject = () => 2000 + n++;

function Mode({ projectId }: { projectId: number }) {
  const choice = useMethodChoice(TRAIN_MODES, `train/${projectId}/mode`, 'lora');
  return h(TrainModeSection, { choice });
}

const render = (projectId: number) => renderToStaticMarkup(h(Mode, { projectId }));

/** The values of the checked radios in the markup. */
function checkedRadios(html: string): string[] {
  return [...html.matchAll(/<input [^>]*>/g)]
    .map(([tag]) => tag)
    .filter((tag) => tag.includes('type="radio"') && tag.includes('checked=""'))
    .map((tag) => /value="([^"]*)"/.exec(tag)?.[1] ?? '');
}

/** The options of a checkbox group, and which are checked. */
function checkboxes(html: string): { options: string[]; checked: string[] } {
  const all = [...html.matchAll(/<label><input type="checkbox"( checked="")?\/> ([^<]+)<\/label>/g)];
  return { options: all.map((m) => m[2]!), checked: all.filter((m) => m[1]).map((m) => m[2]!) };
}

describe('the Train form’s mode section', () => {
  it('offers LoRA and full-parameter training with one line each; LoRA (the default) shows the adapter’s fields only', () => {
    const html = render(freshProject());
    expect(checkedRadios(html)).toEqual(['lora']);
    for (const row of Object.values(TRAIN_MODES)) {
      expect(html).toContain(row.label);
      expect(html).toContain(row.description);
    }
    expect(html).toContain('LoRA rank');
    expect(html).toMatch(/<legend>LoRA target modules<\/legend>/);
    expect(checkboxes(html)).toEqual({ options: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'], checked: ['q', 'v'] });
    expect(html).not.toContain('Trained weights');
  });

  it('full mode shows the trained-weight groups (all by default) and no LoRA field; the choice comes back after a tab switch', () => {
    const projectId = freshProject();
    stored.set(`safetune.form.train/${projectId}/mode/method`, JSON.stringify({ method: 'full' }));
    stored.set(`safetune.form.train/${projectId}/mode/params/full`, JSON.stringify({ trainable: ['attention', 'norms'] }));
    const html = render(projectId);
    expect(checkedRadios(html)).toEqual(['full']);
    expect(html).toMatch(/<legend>Trained weights<\/legend>/);
    expect(checkboxes(html)).toEqual({ options: [...TrainableGroup.options], checked: ['attention', 'norms'] });
    expect(html).not.toContain('LoRA rank');
    expect(html).not.toContain('LoRA target modules');
    // another project keeps its own choice; full mode with nothing stored trains every weight
    expect(checkedRadios(render(freshProject()))).toEqual(['lora']);
    const other = freshProject();
    stored.set(`safetune.form.train/${other}/mode/method`, JSON.stringify({ method: 'full' }));
    expect(checkboxes(render(other)).checked).toEqual(['all']);
  });
});
