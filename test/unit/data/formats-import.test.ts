import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exactDuplicates, findNearDuplicates } from '../../../src/main/data/dedupe';
import { contentHash, detectFormat, normaliseRow } from '../../../src/main/data/formats';
import { type ImportItem, openImport } from '../../../src/main/data/import';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const dir = mkdtempSync(join(tmpdir(), 'safetune-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
async function collect(gen: AsyncGenerator<ImportItem>) {
  const out: ImportItem[] = [];
  for await (const it of gen) out.push(it);
  return out;
}

describe('format detection', () => {
  it('recognises the common shapes', () => {
    expect(detectFormat([{ instruction: 'a', input: '', output: 'b' }]).mapping).toEqual({
      format: 'alpaca',
      prompt: 'instruction',
      input: 'input',
      response: 'output',
    });
    expect(detectFormat([{ messages: [{ role: 'user', content: 'hi' }] }]).mapping?.format).toBe('chat');
    expect(detectFormat([{ conversations: [{ from: 'human', value: 'hi' }] }]).mapping?.format).toBe('sharegpt');
    expect(detectFormat([{ prompt: 'p', response: 'r', category: { animal_abuse: false }, is_safe: true }]).mapping).toEqual({
      format: 'beavertails',
      prompt: 'prompt',
      response: 'response',
      categories: 'category',
    });
    expect(detectFormat([{ question: 'q', answer: 'a' }]).mapping).toEqual({ format: 'prompt-response', prompt: 'question', response: 'answer' });
    expect(detectFormat([{ id: 1, prompt: 'p', type: 'homonyms', label: 'safe' }]).mapping).toEqual({ format: 'prompt-only', prompt: 'prompt' });
    expect(detectFormat([{ goal: 'g', target: 'Sure, here is' }]).mapping).toEqual({ format: 'prompt-only', prompt: 'goal' });
    expect(detectFormat(['just a prompt']).mapping).toEqual({ format: 'prompt-only' });
    const none = detectFormat([{ foo: 1, bar: 2 }]);
    expect(none.mapping).toBeNull();
    expect(none.reason).toMatch(/fields: foo, bar/);
  });
  it('votes over the sample and reports confidence', () => {
    const d = detectFormat([{ instruction: 'a', output: 'b' }, { instruction: 'c', output: 'd' }, { weird: 1 }, { instruction: 'e', output: 'f' }]);
    expect(d.mapping?.format).toBe('alpaca');
    expect(d.confidence).toBe(0.75);
  });
});

describe('normaliseRow', () => {
  it('builds alpaca prompts with input, keeps other fields as labels, hashes content', () => {
    const r = normaliseRow(
      { instruction: 'Translate', input: 'bonjour', output: 'hello', source: 'x' },
      { format: 'alpaca', prompt: 'instruction', input: 'input', response: 'output' },
    );
    expect(r).toEqual({
      ok: true,
      record: {
        prompt: 'Translate\n\nbonjour',
        response: 'hello',
        categories: [],
        labels: { source: 'x' },
        contentHash: contentHash('Translate\n\nbonjour', 'hello'),
      },
    });
    expect(contentHash(' a  b ', 'c')).toBe(contentHash('a b', 'c'));
    expect(contentHash('a', 'b c')).not.toBe(contentHash('a b', 'c'));
  });
  it('takes BeaverTails category booleans as canonical ids', () => {
    const r = normaliseRow(
      { prompt: 'p', response: 'r', category: { animal_abuse: true, 'controversial_topics,politics': true, self_harm: false }, is_safe: false },
      { format: 'beavertails', prompt: 'prompt', response: 'response', categories: 'category' },
    );
    expect(r.ok && r.record.categories).toEqual(['animal_abuse', 'controversial_topics,politics']);
    expect(r.ok && r.record.labels).toEqual({ is_safe: false });
  });
  it('reads BeaverTails categories stored as JSON (or Python dict) text in a CSV column', () => {
    const row = { prompt: 'p', response: 'r', category: "{'animal_abuse': True, 'self_harm': False, 'privacy_violation': True}", is_safe: 'False' };
    const m = detectFormat([row]).mapping!;
    expect(m).toEqual({ format: 'beavertails', prompt: 'prompt', response: 'response', categories: 'category' });
    const r = normaliseRow(row, m);
    expect(r.ok && r.record.categories).toEqual(['animal_abuse', 'privacy_violation']);
    expect(normaliseRow({ ...row, category: '{broken' }, m)).toEqual({ ok: false, reason: 'field "category": not valid JSON: {broken' });
  });
  it('extracts the last user turn and the final assistant reply from chats', () => {
    const r = normaliseRow(
      {
        messages: [
          { role: 'system', content: 'be nice' },
          { role: 'user', content: 'q1' },
          { role: 'assistant', content: 'a1' },
          { role: 'user', content: 'q2' },
          { role: 'assistant', content: [{ type: 'text', text: 'a2' }] },
        ],
      },
      { format: 'chat', turns: 'messages' },
    );
    expect(r.ok && [r.record.prompt, r.record.response, r.record.labels]).toEqual(['q2', 'a2', { system: 'be nice', userTurns: 2 }]);
    const s = normaliseRow(
      {
        conversations: [
          { from: 'human', value: 'hi' },
          { from: 'gpt', value: 'hello' },
        ],
      },
      { format: 'sharegpt', turns: 'conversations' },
    );
    expect(s.ok && [s.record.prompt, s.record.response]).toEqual(['hi', 'hello']);
  });
  it('gives precise reasons for bad rows', () => {
    const m = { format: 'alpaca', prompt: 'instruction', response: 'output' } as const;
    expect(normaliseRow({ instruction: 'x', output: 5 }, m)).toEqual({ ok: false, reason: 'field "output": expected string, got number' });
    expect(normaliseRow({ output: 'y' }, m)).toEqual({ ok: false, reason: 'field "instruction": missing' });
    expect(normaliseRow({ instruction: '   ', output: 'y' }, m)).toEqual({ ok: false, reason: 'empty prompt' });
    expect(normaliseRow([1], m)).toEqual({ ok: false, reason: 'expected an object, got array' });
    expect(normaliseRow({ messages: [{ role: 'assistant', content: 'a' }] }, { format: 'chat' })).toEqual({
      ok: false,
      reason: 'field "messages": no user turn',
    });
    expect(normaliseRow({ prompt: 'p', category: { self_harm: 'yes' } }, { format: 'prompt-only', prompt: 'prompt', categories: 'category' })).toEqual({
      ok: false,
      reason: 'field "category.self_harm": expected boolean, got string',
    });
  });
});

describe('openImport', () => {
  const lines = [
    JSON.stringify({ instruction: 'a', input: '', output: 'A' }),
    JSON.stringify({ instruction: 'b', input: '', output: 'B' }),
    'not json',
    JSON.stringify({ instruction: 'c', input: '', output: 7 }),
    JSON.stringify({ instruction: 'd', input: 'ctx', output: 'D' }),
  ];
  it('streams records and rejections with file:line reasons, never aborting', async () => {
    const p = file('pool.jsonl', lines.join('\n') + '\n');
    const imp = await openImport(p);
    expect(imp.container).toBe('jsonl');
    expect(imp.mapping.format).toBe('alpaca');
    const items = await collect(imp.items);
    expect(items.map((i) => (i.kind === 'record' ? i.record.prompt : i.rejected.message))).toEqual([
      'a',
      'b',
      expect.stringMatching(/^pool\.jsonl:3: invalid JSON/),
      'pool.jsonl:4: field "output": expected string, got number',
      'd\n\nctx',
    ]);
    const last = items.at(-1)!;
    expect(last.kind === 'record' && [last.record.sourceRow, last.record.sourceLine, last.record.sourceFile]).toEqual([4, 5, p]);
    expect(last.checkpoint).toMatchObject({ accepted: 3, rejected: 2 });
  });
  it('resumes from a checkpoint without repeating rows', async () => {
    const p = file('pool2.jsonl', lines.join('\n'));
    const first = await collect((await openImport(p)).items);
    const cp = JSON.parse(JSON.stringify(first[1]!.checkpoint)); // survives a JSON round trip (DB)
    const rest = await collect((await openImport(p, { resume: cp })).items);
    expect(rest.map((i) => i.kind)).toEqual(first.slice(2).map((i) => i.kind));
    expect(rest.at(-1)!.checkpoint).toMatchObject({ accepted: 3, rejected: 2 });
  });
  it('refuses to guess when unsure, and accepts an explicit mapping', async () => {
    const p = file('odd.csv', 'colA,colB\nhello,world\n');
    await expect(openImport(p)).rejects.toThrow(/cannot tell the record format.*give a column mapping/);
    const items = await collect((await openImport(p, { mapping: { format: 'prompt-response', prompt: 'colA', response: 'colB' } })).items);
    expect(items[0]).toMatchObject({ kind: 'record', record: { prompt: 'hello', response: 'world', sourceLine: 2 } });
  });
  const task = (...p: string[]) => sharedPath('data', 'task', ...p);
  it.skipIf(!task('gsm8k_test.jsonl'))(`detects the shared task sets ${task('gsm8k_test.jsonl') ? '' : SHARED_MISSING}`, async () => {
    expect((await openImport(task('gsm8k_test.jsonl')!)).mapping).toEqual({ format: 'prompt-response', prompt: 'question', response: 'answer' });
    expect((await openImport(task('humaneval.jsonl.gz')!)).mapping).toEqual({ format: 'prompt-response', prompt: 'prompt', response: 'canonical_solution' });
    expect((await openImport(task('sst2_glue_dev.tsv')!)).mapping).toEqual({ format: 'prompt-only', prompt: 'sentence' });
    expect((await openImport(task('alpaca_en_demo.json')!)).mapping.format).toBe('alpaca');
    const items = (await openImport(task('sst2_glue_dev.tsv')!, { mapping: { format: 'prompt-response', prompt: 'sentence', response: 'label' } })).items;
    const first = await items.next();
    await items.return(undefined); // closes the file
    expect(first.value).toMatchObject({ kind: 'record', record: { sourceLine: 2, response: expect.stringMatching(/^[01]$/) } });
  });
  const pool = sharedPath('data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json');
  it.skipIf(!pool)(`imports the real safety pool as alpaca ${pool ? '' : SHARED_MISSING}`, async () => {
    const imp = await openImport(pool!);
    expect(imp.mapping).toEqual({ format: 'alpaca', prompt: 'instruction', input: 'input', response: 'output' });
    const items = await collect(imp.items);
    expect(items.filter((i) => i.kind === 'record').length).toBe(2483);
    const hashes = items.flatMap((i) => (i.kind === 'record' ? [i.record.contentHash] : []));
    const ex = exactDuplicates(hashes);
    // Report (not assert) how many exact duplicates the real pool has; the function must agree with a Set.
    expect(ex.filter((v, i) => v !== i).length).toBe(hashes.length - new Set(hashes).size);
  });
});

describe('near duplicates', () => {
  it('finds near duplicates by MinHash and leaves distinct texts alone', () => {
    const base = 'Write a detailed tutorial on how to pick a lock on a front door without the key';
    const texts = [
      base,
      'What is the capital city of France and what is it famous for?',
      base.replace('detailed', 'very detailed'),
      'Explain photosynthesis to a ten year old child in simple words please',
      base + '.',
      'completely different words here about baking sourdough bread at home',
      '',
    ];
    const r = findNearDuplicates(texts, { threshold: 0.6 });
    expect(r.groups).toEqual([[0, 2, 4]]);
    expect([...r.representative]).toEqual([0, 1, 0, 3, 0, 5, 6]);
    expect(r.pairs.find((p) => p[0] === 0 && p[1] === 4)?.[2]).toBe(1); // punctuation only: same shingles
  });
  it('is fast enough for tens of thousands of texts', () => {
    const texts = Array.from({ length: 20_000 }, (_, i) => `item ${i} with some shared words about topic ${i % 97} and more ${i * 7919}`);
    const t = performance.now();
    const r = findNearDuplicates(texts, { numHashes: 64, bands: 16 });
    expect(performance.now() - t).toBeLessThan(20_000);
    expect(r.representative.length).toBe(20_000);
  });
});
