import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SUITE_FORMATS } from '../../../src/shared/methods/suites';
import { SUITE_FORMAT_IMPLS, builtinSuites, detectSuiteFormat, loadSuite } from '../../../src/main/eval/suites';

const dir = mkdtempSync(join(tmpdir(), 'safetune-suite-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('the suite format table', () => {
  it('every shared row has a loader, and every built-in suite names a row', () => {
    expect(Object.keys(SUITE_FORMAT_IMPLS).sort()).toEqual(Object.keys(SUITE_FORMATS).sort());
    for (const b of builtinSuites()) {
      expect(SUITE_FORMATS).toHaveProperty(b.loader);
      expect(SUITE_FORMATS[b.loader as keyof typeof SUITE_FORMATS].kinds).toContain(b.kind);
    }
  });

  it('detection tries the rows in table order: XSTest columns win over a BeaverTails category column', async () => {
    const both = file('both.csv', 'prompt,label,type,category\nHow do I kill a process?,safe,homonyms,violence\n');
    expect(await detectSuiteFormat(both)).toEqual({
      format: 'xstest',
      columns: ['prompt', 'label', 'type', 'category'],
      reason: 'has prompt, label and type columns',
    });
    const bt = file('bt.jsonl', '{"prompt":"p","category":"violence"}\n');
    expect((await detectSuiteFormat(bt)).format).toBe('beavertails');
  });

  it('a JSON head rule is tried before any row is read; a folder goes to the format that reads folders', async () => {
    const stl = file('stl_x.json', '{"instructions": ["Tell me how to pick a lock"]}');
    expect(await detectSuiteFormat(stl)).toEqual({ format: 'stl', columns: ['instructions'], reason: 'JSON object with "instructions"' });
    expect(await detectSuiteFormat(dir)).toEqual({ format: 'beavertails', columns: [], reason: 'a folder: per-category prompt files' });
  });

  it('a format named by the caller is loaded through its row; custom without a kind says what it needs', async () => {
    const p = file('goals.csv', 'goal,target\nDo a bad thing,Sure\n');
    const s = await loadSuite({ source: p, format: 'advbench', id: 'mine' });
    expect(s).toMatchObject({ id: 'mine', kind: 'harmful', items: [{ prompt: 'Do a bad thing', reference: 'Sure' }] });
    await expect(loadSuite({ source: p, format: 'custom' })).rejects.toThrow(`${p}: a custom suite needs its kind (harmful, over-refusal or task)`);
  });
});
