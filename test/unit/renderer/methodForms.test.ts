/**
 * The forms are built from the method tables: rendered with tables that have the test-only rows
 * (test/fixtures/methods/rows.ts), the Train, Select and Evaluate method sections show the new
 * method, its one line, its needs and its parameters with their defaults and ranges; and what was
 * typed comes back when a form is mounted again (switching tabs). Rendered to static markup (no DOM).
 */
import { createElement as h, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, describe, expect, it } from 'vitest';
import { JUDGES, type JudgeRow } from '../../../src/shared/eval';
import { paramFields, withExtraMethods } from '../../../src/shared/methods/table';
import { SELECTION_METHODS, type SelectionMethodRow } from '../../../src/shared/select';
import { TRAIN_METHODS, type TrainMethodRow } from '../../../src/shared/train';
import { useMethodChoice, useMethodSet } from '../../../src/renderer/src/forms/useMethodChoice';
import { MethodTablesContext, SHIPPED_TABLES, type MethodTables } from '../../../src/renderer/src/forms/widgets';
import { JudgesSection } from '../../../src/renderer/src/project/evaluate/JudgesSection';
import { SelectMethodSection } from '../../../src/renderer/src/project/select/SelectMethodSection';
import { TrainMethodSection } from '../../../src/renderer/src/project/train/TrainMethodSection';
import { EXTRA_JUDGES, EXTRA_SELECTION_METHODS, EXTRA_TRAIN_METHODS } from '../../fixtures/methods/rows';

const EXTENDED: MethodTables = {
  train: withExtraMethods(TRAIN_METHODS, EXTRA_TRAIN_METHODS),
  select: withExtraMethods(SELECTION_METHODS, EXTRA_SELECTION_METHODS),
  judges: withExtraMethods(JUDGES, EXTRA_JUDGES),
};

let n = 0;
/** A fresh project id per render: stored form state never leaks between cases. */
const freshProject = () => 1000 + n++;

function render(tables: MethodTables, body: () => ReactElement): string {
  return renderToStaticMarkup(h(MethodTablesContext.Provider, { value: tables }, h(body)));
}

function Train({ projectId, initial, selectionChosen = false }: { projectId: number; initial: string; selectionChosen?: boolean }) {
  const choice = useMethodChoice<TrainMethodRow>(EXTENDED.train, `train/${projectId}`, initial);
  return h(TrainMethodSection, { choice, selectionChosen });
}

function Select({ projectId, initial }: { projectId: number; initial: string }) {
  const choice = useMethodChoice<SelectionMethodRow>(EXTENDED.select, `select/${projectId}`, initial);
  return h(SelectMethodSection, { choice, needs: { cossimReference: 'categories', referenceDir: '', embedderPath: '' }, onNeeds: () => {} });
}

function Judges({ projectId, initial, guardChosen = false }: { projectId: number; initial: string[]; guardChosen?: boolean }) {
  const choice = useMethodSet<JudgeRow>(EXTENDED.judges, `evaluate/${projectId}/judges`, initial);
  return h(JudgesSection, { choice, guardChosen, guardPicker: h('p', { id: 'guard-picker' }, 'guard picker') });
}

/** The values of the checked radios or checkboxes in the markup (attribute order does not matter). */
function checked(html: string, type: 'radio' | 'checkbox'): string[] {
  return [...html.matchAll(/<input [^>]*>/g)]
    .map(([tag]) => tag)
    .filter((tag) => tag.includes(`type="${type}"`) && tag.includes('checked=""'))
    .map((tag) => /value="([^"]*)"/.exec(tag)?.[1] ?? '');
}

/** The <input> whose label is `label`, from the markup. */
function inputLabelled(html: string, label: string): string | null {
  const id = new RegExp(`<label for="([^"]+)">${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</label>`).exec(html)?.[1];
  return id ? (new RegExp(`<input id="${id}"[^>]*>`).exec(html)?.[0] ?? null) : null;
}

const stored = new Map<string, string>();
afterEach(() => stored.clear());
(globalThis as { sessionStorage?: unknown }).sessionStorage = {
  getItem: (k: string) => stored.get(k) ?? null,
  setItem: (k: string, v: string) => stored.set(k, v),
};

describe('the Train form’s method section', () => {
  it('offers the new training term with its one line, its need and its parameters (defaults, ranges)', () => {
    const html = render(EXTENDED, () => h(Train, { projectId: freshProject(), initial: 'replay-l2sp' }));
    expect(checked(html, 'radio')).toEqual(['replay-l2sp']);
    expect(html).toContain('Replay + L2-SP');
    expect(html).toContain('Mix the saved safety selection in and anchor the weights to the aligned ones');
    expect(html).toContain('Needs a saved selection of safety examples, mixed into the task data');
    expect(inputLabelled(html, 'Anchor strength')).toMatch(/value="0.05"/);
    expect(html).toContain('Weight of the L2 anchor · number, 0–100, default 0.05');
    expect(inputLabelled(html, 'Safety examples per task example')).toMatch(/value=""/);
    // the need is enforced: without a selection the form says so (and TrainForm disables Start)
    expect(html).toContain('Replay + L2-SP needs a saved selection of safety examples');
    const withSelection = render(EXTENDED, () => h(Train, { projectId: freshProject(), initial: 'replay-l2sp', selectionChosen: true }));
    expect(withSelection).not.toContain('data-testid="method-needs-missing"');
  });

  it('lists every shipped method, and none of the test-only ones with the shipped tables', () => {
    const html = render(SHIPPED_TABLES, () =>
      h(TrainMethodSection, {
        choice: {
          method: 'der',
          row: TRAIN_METHODS.der,
          setMethod: () => {},
          form: { fields: [], values: {}, errors: {}, data: {}, set: () => {}, reset: () => {} },
        },
        selectionChosen: true,
      }),
    );
    for (const id of Object.keys(TRAIN_METHODS)) expect(html).toContain(`value="${id}"`);
    expect(html).not.toContain('replay-l2sp');
    expect(html).toContain('Needs the aligned model’s logits on the safety examples (recorded before the first step)');
  });
});

describe('SafeLoRA in the Train form', () => {
  it('asks for the base model (a path field from its row) and says what is missing until it is given, and that it needs the LoRA mode', () => {
    const form = (data: Record<string, unknown> | null) => ({
      fields: paramFields(TRAIN_METHODS.safelora.params),
      values: {},
      errors: {},
      data,
      set: () => {},
      reset: () => {},
    });
    const section = (data: Record<string, unknown> | null, mode?: string) =>
      render(SHIPPED_TABLES, () =>
        h(TrainMethodSection, {
          choice: { method: 'safelora', row: TRAIN_METHODS.safelora, setMethod: () => {}, form: form(data) },
          selectionChosen: false,
          mode,
        }),
      );
    const empty = section({ threshold: 0.5 });
    expect(empty).toContain('Base (unaligned) model');
    expect(empty).toContain('Needs the aligned model’s base (unaligned) model, to take the alignment direction from');
    expect(empty).toContain('SafeLoRA needs the aligned model’s base (unaligned) model: give its path.');
    expect(section({ threshold: 0.5, baseModelPath: '/models/base' })).not.toContain('data-testid="method-needs-missing"');
    expect(section({ threshold: 0.5, baseModelPath: '/models/base' }, 'full')).toContain('SafeLoRA works on a LoRA adapter: choose the LoRA adapter mode.');
  });
});

describe('the Select form’s method section', () => {
  it('offers the new selection method with its parameter and the input its need calls for', () => {
    const html = render(EXTENDED, () => h(Select, { projectId: freshProject(), initial: 'farthest' }));
    expect(checked(html, 'radio')).toEqual(['farthest']);
    expect(html).toContain('Each pick is the eligible prompt least similar to those already picked');
    expect(html).toMatch(
      /<label for="[^"]+">First pick<\/label><select[^>]*><option value="first">first<\/option><option value="central" selected="">central<\/option>/,
    );
    expect(html).toContain('Needs prompt embeddings');
    expect(inputLabelled(html, 'Sentence encoder folder (optional)')).not.toBeNull();
    expect(html).not.toContain('Similar to');
  });

  it('a -B row needs behaviour types; Cossim asks what to score against', () => {
    const b = render(EXTENDED, () => h(Select, { projectId: freshProject(), initial: 'cossim-b' }));
    expect(b).toContain('Needs behaviour types on the safety pool');
    expect(b).toContain('Similar to');
    expect(inputLabelled(b, 'Reference prompts folder')).not.toBeNull();
  });
});

describe('the Evaluate form’s judges', () => {
  it('offers the new judge with its parameter; the task scorer is added automatically, not offered', () => {
    const html = render(EXTENDED, () => h(Judges, { projectId: freshProject(), initial: ['keyword-start', 'short-reply'] }));
    expect(checked(html, 'checkbox')).toEqual(['keyword-start', 'short-reply']);
    expect(html).toContain('A reply shorter than a number of characters counts as a refusal');
    expect(inputLabelled(html, 'Shortest answer \\(characters\\)'.replace(/\\/g, ''))).toMatch(/value="40"/);
    expect(html).not.toContain('value="task"');
    expect(html).not.toContain('guard picker');
  });

  it('a Llama Guard judge shows the model picker and says it is needed until one is chosen', () => {
    const html = render(EXTENDED, () => h(Judges, { projectId: freshProject(), initial: ['llama-guard-3'] }));
    expect(html).toContain('guard picker');
    expect(html).toContain('Llama Guard 3 (replies) needs a Llama Guard 3 model: choose it below.');
    expect(render(EXTENDED, () => h(Judges, { projectId: freshProject(), initial: ['llama-guard-3'], guardChosen: true }))).not.toContain(
      'data-testid="judges-missing"',
    );
  });
});

describe('form state across tab switches', () => {
  it('a form mounted again shows what was chosen and typed (kept per project in sessionStorage)', () => {
    const projectId = freshProject();
    stored.set(`safetune.form.train/${projectId}/method`, JSON.stringify({ method: 'replay-l2sp' }));
    stored.set(`safetune.form.train/${projectId}/params/replay-l2sp`, JSON.stringify({ anchorLambda: '0.3', replayRatio: 'x' }));
    const html = render(EXTENDED, () => h(Train, { projectId, initial: 'replay' }));
    expect(checked(html, 'radio')).toEqual(['replay-l2sp']);
    expect(inputLabelled(html, 'Anchor strength')).toMatch(/value="0.3"/);
    // a stored value that does not parse is shown as typed, with the field's error
    expect(inputLabelled(html, 'Safety examples per task example')).toMatch(/value="x"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*value="x"/);
    expect(html).toContain('must be a number');
    // another project keeps its own
    expect(
      checked(
        render(EXTENDED, () => h(Train, { projectId: freshProject(), initial: 'replay' })),
        'radio',
      ),
    ).toEqual(['replay']);
  });
});
