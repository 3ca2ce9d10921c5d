/** The recipe core without a workspace: the YAML writer's PyYAML typing, the replay draw, method fallbacks. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRecipe, drawReplay, fallbackMethod, formatFloat, replayCount, toYaml } from '../../../src/main/recipes';
import { float } from '../../../src/main/recipes/yaml';
import { RecipeParams } from '../../../src/shared/recipes';
import { plainValue, pythonTypes, pythonYamlAvailable, pyyamlLoad, type Py } from './pyyaml';

const TRICKY = [
  'yes',
  'No',
  'on',
  'OFF',
  'null',
  '~',
  '',
  '1e-4',
  '3.5',
  '0x1F',
  '2024-01-02',
  'a: b',
  '#x',
  '- x',
  'multi\nline',
  'tab\there',
  '"quoted"',
  'ünïcode',
  '.inf',
  'q_proj,v_proj',
  'meta-llama/Llama-3.1-8B',
  '/abs/path',
  '{instruction}',
];

function doc() {
  return toYaml([
    { comment: 'strings', entries: Object.fromEntries(TRICKY.map((s, i) => [`s${i}`, s])) },
    {
      comment: 'numbers',
      entries: {
        lr: float(3e-4),
        tiny: float(2e-7),
        huge: float(2e21),
        whole: float(3),
        zero: float(0),
        neg: float(-0.5),
        steps: 100,
        list: ['q_proj', 'yes'],
        nested: [{ path: 'x', type: { format: '{instruction}' } }],
        empty: [],
        none: null,
        flag: false,
      },
    },
  ]);
}

describe('YAML writer', () => {
  it('every string reads back as that string and every number with its intended type, by PyYAML’s rules', () => {
    const v = pyyamlLoad(doc());
    expect(plainValue(v)).toMatchObject(Object.fromEntries(TRICKY.map((s, i) => [`s${i}`, s])));
    const d = v.v as Record<string, Py>;
    for (const i of TRICKY.keys()) expect(d[`s${i}`]!.t).toBe('str');
    expect([d.lr, d.tiny, d.huge, d.whole, d.zero, d.neg].map((x) => [x!.t, x!.v])).toEqual([
      ['float', 3e-4],
      ['float', 2e-7],
      ['float', 2e21],
      ['float', 3],
      ['float', 0],
      ['float', -0.5],
    ]);
    expect([d.steps!.t, d.none!.t, d.flag!.t, d.list!.t, d.empty!.t]).toEqual(['int', 'NoneType', 'bool', 'list', 'list']);
    expect(plainValue(d.nested!)).toEqual([{ path: 'x', type: { format: '{instruction}' } }]);
  });

  it('floats carry a dot and a signed exponent (PyYAML reads 1e-05 as a string)', () => {
    expect([3e-4, 2e-7, 1e-5, 2e21, 3, 0, 0.05].map(formatFloat)).toEqual(['0.0003', '2.0e-7', '0.00001', '2.0e+21', '3.0', '0.0', '0.05']);
    expect(() => formatFloat(Number.NaN)).toThrow(/finite/);
    expect(() => toYaml([{ entries: { x: 0.5 } }])).toThrow(/whole number/);
  });

  it.skipIf(!pythonYamlAvailable())('the real PyYAML agrees', () => {
    const dir = mkdtempSync(join(tmpdir(), 'yaml-writer-'));
    try {
      const file = join(dir, 'x.yaml');
      writeFileSync(file, doc());
      expect(pythonTypes([file])[0]).toEqual(pyyamlLoad(doc()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('replay draw and method fallbacks', () => {
  it('draws whole passes before repeating, the same for the same seed', () => {
    const pool = ['a', 'b', 'c'];
    const seven = drawReplay(pool, 7, 1);
    expect(seven.slice(0, 3).sort()).toEqual(pool);
    expect(seven.slice(3, 6).sort()).toEqual(pool);
    expect(drawReplay(pool, 7, 1)).toEqual(seven);
    expect(drawReplay(pool, 7, 2)).not.toEqual(seven);
    expect(() => drawReplay([], 1, 0)).toThrow(/selection is empty/);
    expect([replayCount(10, 3), replayCount(10, 3, 0.5), replayCount(11, 3, 0.04)]).toEqual([3, 5, 0]);
  });

  it('methods on the selection fall back to replay when there is one, the others to plain', () => {
    expect(['der', 'der++', 'ewc', 'agem', 'lwf', 'l2sp'].map((m) => fallbackMethod(m as never, true))).toEqual([
      'replay',
      'replay',
      'replay',
      'replay',
      'plain',
      'plain',
    ]);
    expect(fallbackMethod('der', false)).toBe('plain');
  });

  it('a ratio that rounds to no safety example says so', () => {
    const params = RecipeParams.parse({ projectId: 1, tool: 'axolotl', model: 'x/y', method: 'replay', selectionId: 1, methodParams: { replayRatio: 0.01 } });
    const r = buildRecipe({
      params,
      runName: 'r',
      project: { id: 1, name: 'p' },
      selection: { id: 1, name: 's' },
      task: [{ prompt: 'a', response: 'b' }],
      safety: [{ prompt: 'c', response: 'd' }],
    });
    expect(r.examples).toEqual({ task: 1, safety: 0, total: 1 });
    expect(r.notes[0]).toMatch(/replayRatio 0\.01 of 1 task examples rounds to no safety example/);
  });
});
