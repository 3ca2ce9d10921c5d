import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import v1 from '../../../resources/taxonomy/harm-taxonomy.v1.json';
import { HarmTaxonomy, getHarmTaxonomy } from '../../../src/main/data/taxonomy';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

describe('harm taxonomy', () => {
  const t = getHarmTaxonomy();

  it('has the 14 BeaverTails categories as canonical ids, versioned', () => {
    expect(t.version).toBe('safetune-harm-taxonomy@1.0.0');
    expect(t.ids).toHaveLength(14);
    expect(t.ids).toContain('controversial_topics,politics');
    expect(t.ids).toContain('violence,aiding_and_abetting,incitement');
    expect(t.category('self_harm').name).toBe('Self-harm');
  });

  it('resolves loosely written names', () => {
    expect(t.resolve('Controversial Topics, Politics')).toBe('controversial_topics,politics');
    expect(t.resolve('controversial_topics_politics')).toBe('controversial_topics,politics');
    expect(t.resolve('beavertails_self_harm')).toBe('self_harm');
    expect(t.resolve('Self-harm')).toBe('self_harm');
    expect(t.resolve('cooking')).toBeNull();
  });

  it('maps to HarmBench and Llama Guard 3 and back', () => {
    expect(t.toLlamaGuard3(['self_harm'])).toEqual(['S11']);
    expect(t.toLlamaGuard3(['privacy_violation', 'hate_speech,offensive_language'])).toEqual(['S7', 'S10']);
    expect(t.fromLlamaGuard3(['S10'])).toEqual(['discrimination,stereotype,injustice', 'hate_speech,offensive_language']);
    expect(t.fromLlamaGuard3(['S14'])).toEqual([]);
    expect(t.toHarmBench(['drug_abuse,weapons,banned_substance'])).toEqual(['chemical_biological', 'illegal']);
    expect(t.fromHarmBench(['copyright'])).toEqual([]);
    // Round trip: every category is reachable back from its own targets.
    for (const id of t.ids) {
      expect(t.fromHarmBench(t.toHarmBench([id]))).toContain(id);
      expect(t.fromLlamaGuard3(t.toLlamaGuard3([id]))).toContain(id);
    }
    expect(() => t.fromLlamaGuard3(['S99'])).toThrow(/unknown llamaGuard3 category "S99"/);
    expect(() => t.category('nope')).toThrow();
  });

  it('rejects an invalid taxonomy file', () => {
    const bad = structuredClone(v1);
    bad.categories[0]!.harmbench = ['no_such'];
    expect(() => new HarmTaxonomy(bad)).toThrow(/unknown HarmBench category "no_such"/);
    const dup = structuredClone(v1);
    dup.categories[1]!.id = dup.categories[0]!.id;
    expect(() => new HarmTaxonomy(dup)).toThrow(/duplicate category id/);
  });

  const dir = sharedPath('data', 'reference', 'beavertails-unsafe-prompts');
  it.skipIf(!dir)(`names exactly the shared reference files ${dir ? '' : SHARED_MISSING}`, () => {
    const files = readdirSync(dir!)
      .filter((f) => f.endsWith('.txt'))
      .sort();
    expect(t.categories.map((c) => c.referenceFile).sort()).toEqual(files);
  });
});
