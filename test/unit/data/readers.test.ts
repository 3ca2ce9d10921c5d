import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ContainerFormat,
  MissingColumnError,
  type RawItem,
  type ReadOptions,
  type RowIssue,
  detectContainer,
  readRows,
  readTable,
} from '../../../src/main/data/readers';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const dir = mkdtempSync(join(tmpdir(), 'safetune-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer | ArrayBuffer): string {
  const p = join(dir, name);
  writeFileSync(p, content instanceof ArrayBuffer ? Buffer.from(content) : content);
  return p;
}

async function all(p: string, fmt: ContainerFormat, opts: ReadOptions = {}): Promise<RawItem[]> {
  const out: RawItem[] = [];
  for await (const it of readRows(p, fmt, opts)) out.push(it);
  return out;
}

const summary = (items: RawItem[]) =>
  items.map((i) => (i.kind === 'row' ? { row: i.row, line: i.line, value: i.value } : { row: i.row, line: i.line, error: i.reason }));

/** Resuming from every item's `next` must give exactly the items after it. */
async function expectResumable(p: string, fmt: ContainerFormat, opts: ReadOptions = {}) {
  const full = await all(p, fmt, opts);
  expect(full.length).toBeGreaterThan(0);
  for (let k = 0; k < full.length; k++) {
    const rest = await all(p, fmt, { ...opts, resume: full[k]!.next });
    expect(summary(rest)).toEqual(summary(full.slice(k + 1)));
  }
  return full;
}

describe('JSONL reader', () => {
  const text = '\uFEFF{"a":1}\r\n\n{"a":"é ✓"}\n{bad json}\n  \n[1,2]\n{"a":3}';
  it('reads rows, skips blank lines, reports malformed lines with their line numbers', async () => {
    const p = file('x.jsonl', text);
    const items = await all(p, 'jsonl', { chunkSize: 5 });
    expect(summary(items)).toEqual([
      { row: 0, line: 1, value: { a: 1 } },
      { row: 1, line: 3, value: { a: 'é ✓' } },
      { row: 2, line: 4, error: expect.stringMatching(/^invalid JSON/) },
      { row: 3, line: 6, value: [1, 2] },
      { row: 4, line: 7, value: { a: 3 } },
    ]);
  });
  it('resumes from any position without duplicates, also gzipped', async () => {
    await expectResumable(file('y.jsonl', text), 'jsonl', { chunkSize: 4 });
    const gz = file('y.jsonl.gz', gzipSync(Buffer.from(text)));
    expect(await detectContainer(gz)).toBe('jsonl');
    expect(summary(await expectResumable(gz, 'jsonl'))).toEqual(summary(await all(file('z.jsonl', text), 'jsonl')));
  });
});

describe('JSONL long lines', () => {
  it('reads lines much longer than the read chunk in linear time', async () => {
    const big = 'x'.repeat(4_000_000);
    const p = file('long.jsonl', `${JSON.stringify({ a: big })}\n{"b":1}\n${JSON.stringify({ c: big })}`);
    const t = performance.now();
    const items = await all(p, 'jsonl', { chunkSize: 1024 });
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(items.map((i) => (i.kind === 'row' ? Object.keys(i.value as object)[0] : i.reason))).toEqual(['a', 'b', 'c']);
    expect((items[2] as { value: { c: string } }).value.c.length).toBe(4_000_000);
    const rest = await all(p, 'jsonl', { resume: items[0]!.next, chunkSize: 4096 });
    expect(rest.map((i) => i.row)).toEqual([1, 2]);
  });
});

describe('JSON array reader', () => {
  const tricky = [
    { instruction: 'a "quoted" [bracket], {brace}', output: 'x\\y', n: [1, { m: ']' }] },
    'plain string, with comma',
    { instruction: 'ünïcödé 日本語 🙂', output: '' },
    42,
    null,
  ];
  it('splits elements correctly across any chunk boundary', async () => {
    const p = file('t.json', '\uFEFF' + JSON.stringify(tricky, null, 2));
    for (const chunkSize of [1, 3, 7, 64, 65536]) {
      const items = await all(p, 'json', { chunkSize });
      expect(items.map((i) => (i.kind === 'row' ? i.value : i.reason))).toEqual(tricky);
    }
    const items = await all(p, 'json');
    expect(items.map((i) => i.line)).toEqual([2, 12, 13, 17, 18]);
  });
  it('reports a malformed element and keeps going; reports truncation', async () => {
    const p = file('bad.json', '[{"a":1},\n{"a":2,},\n{"a":3}\n]');
    const items = await all(p, 'json');
    expect(summary(items)).toEqual([
      { row: 0, line: 1, value: { a: 1 } },
      { row: 1, line: 2, error: expect.stringMatching(/^invalid JSON element/) },
      { row: 2, line: 3, value: { a: 3 } },
    ]);
    const t = await all(file('trunc.json', '[{"a":1},{"a":2'), 'json');
    expect(t.map((i) => i.kind)).toEqual(['row', 'error']);
    expect((t[1] as { reason: string }).reason).toMatch(/unexpected end of file/);
  });
  it('streams the array under a key of a top-level object', async () => {
    const p = file('obj.json', JSON.stringify({ meta: { x: [1, 2] }, instructions: ['p1', 'p2 "q"'], tags: ['t'] }));
    // The first array-valued key of the top-level object (not the nested meta.x).
    expect((await all(p, 'json')).map((i) => (i as { value: unknown }).value)).toEqual(['p1', 'p2 "q"']);
    expect((await all(p, 'json', { arrayKey: 'tags' })).map((i) => (i as { value: unknown }).value)).toEqual(['t']);
    await expect(all(p, 'json', { arrayKey: 'nope' })).rejects.toThrow(/no array under "nope"/);
  });
  it('resumes from any position without duplicates', async () => {
    await expectResumable(file('r.json', JSON.stringify(tricky)), 'json', { chunkSize: 5 });
    await expectResumable(file('r2.json', JSON.stringify({ k: 1, data: tricky })), 'json', { chunkSize: 5 });
  });
  it('reads elements much longer than the read chunk in linear time', async () => {
    const big = 'y'.repeat(4_000_000);
    const p = file('longel.json', `[${JSON.stringify({ a: big })}, {"b": 1}, ${JSON.stringify({ c: big })}]`);
    const t = performance.now();
    const items = await all(p, 'json', { chunkSize: 1024 });
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(items.map((i) => (i.kind === 'row' ? Object.keys(i.value as object)[0] : i.reason))).toEqual(['a', 'b', 'c']);
    expect((items[2] as { value: { c: string } }).value.c.length).toBe(4_000_000);
  });
  it('streams a 300k-element array in bounded memory', async () => {
    const n = 300_000;
    const parts: string[] = [];
    for (let k = 0; k < n; k++) parts.push(JSON.stringify({ instruction: `prompt number ${k} `.repeat(3), output: `response ${k}` }));
    const p = file('big.json', `[${parts.join(',\n')}]`);
    parts.length = 0;
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let count = 0;
    let peak = 0;
    let last = -1;
    let errors = 0;
    for await (const it of readRows(p, 'json')) {
      if (it.kind !== 'row') errors++;
      last = it.row;
      if (++count % 50_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    }
    expect(count).toBe(n);
    expect(errors).toBe(0);
    expect(last).toBe(n - 1);
    // The file is ~30 MB; holding it (as a string) would cost far more than this.
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('CSV/TSV reader', () => {
  const csv = 'prompt,response\n"multi\nline",ok\nshort\n"x, y","said ""hi"""\n\nlast,row\n';
  it('reads records with the header, reports wrong column counts with line numbers', async () => {
    const items = await all(file('a.csv', csv), 'csv', { chunkSize: 6 });
    expect(summary(items)).toEqual([
      { row: 0, line: 2, value: { prompt: 'multi\nline', response: 'ok' } },
      { row: 1, line: 4, error: 'expected 2 columns, got 1' },
      { row: 2, line: 5, value: { prompt: 'x, y', response: 'said "hi"' } },
      { row: 3, line: 7, value: { prompt: 'last', response: 'row' } },
    ]);
    await expectResumable(file('b.csv', csv), 'csv');
  });
  it('handles a BOM and CRLF line ends, and resumes there too', async () => {
    const p = file('crlf.csv', '\uFEFFprompt,response\r\n"a\r\nb",1\r\nc,2\r\n');
    const items = await expectResumable(p, 'csv');
    expect(summary(items)).toEqual([
      { row: 0, line: 2, value: { prompt: 'a\r\nb', response: '1' } },
      { row: 1, line: 4, value: { prompt: 'c', response: '2' } },
    ]);
  });
  it('rejects (does not hang) on a missing file or an abort', async () => {
    for (const fmt of ['csv', 'jsonl', 'json'] as const) await expect(all(join(dir, `missing.${fmt}`), fmt)).rejects.toThrow(/ENOENT/);
    const ac = new AbortController();
    ac.abort();
    await expect(all(file('ab.csv', 'a,b\n1,2\n'), 'csv', { signal: ac.signal })).rejects.toThrow(/abort/i);
  });
  it('stops cleanly when the consumer stops early (no deadlock on backpressure)', async () => {
    const rows = Array.from({ length: 20_000 }, (_, k) => `prompt number ${k},response ${k}`).join('\n');
    const p = file('many.csv', `prompt,response\n${rows}\n`);
    for (const stopAt of [0, 5, 3000]) {
      let n = 0;
      for await (const it of readRows(p, 'csv', { chunkSize: 4096 })) {
        expect(it.kind).toBe('row');
        if (n++ >= stopAt) break;
      }
      expect(n).toBe(stopAt + 1);
    }
  });
  it('reports an unclosed quote without throwing', async () => {
    const items = await all(file('q.csv', 'a,b\n1,2\n3,"open\n4,5\n'), 'csv');
    expect(items[0]).toMatchObject({ kind: 'row', value: { a: '1', b: '2' } });
    expect(items.at(-1)).toMatchObject({ kind: 'error', reason: expect.stringMatching(/never closed/) });
  });
  it('reads TSV without quote processing', async () => {
    const items = await all(file('s.tsv', 'sentence\tlabel\nhe said "great\tfilm\t1\nit "is" fine \t0\n'), 'tsv');
    expect(summary(items)).toEqual([
      { row: 0, line: 2, error: 'expected 2 columns, got 3' },
      { row: 1, line: 3, value: { sentence: 'it "is" fine ', label: '0' } },
    ]);
  });
});

describe('Parquet reader', () => {
  it('reads row groups and resumes by row index', async () => {
    const n = 25;
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'prompt', data: Array.from({ length: n }, (_, k) => `p${k}`), type: 'STRING' },
        { name: 'n', data: Array.from({ length: n }, (_, k) => k), type: 'INT32' },
      ],
      rowGroupSize: 10,
    });
    const p = file('d.parquet', buf);
    const items = await all(p, 'parquet');
    expect(items.map((i) => (i as { value: unknown }).value)).toEqual(Array.from({ length: n }, (_, k) => ({ prompt: `p${k}`, n: k })));
    const rest = await all(p, 'parquet', { resume: items[12]!.next });
    expect(rest.map((i) => i.row)).toEqual(Array.from({ length: 12 }, (_, k) => 13 + k));
  });
});

describe('Parquet reader, malformed', () => {
  it('rejects a file that is not parquet with a clear error instead of hanging', async () => {
    await expect(all(file('bad.parquet', 'this is not parquet at all, just text'), 'parquet')).rejects.toThrow(/parquet/i);
  });
});

describe('container detection and real files', () => {
  it('detects by extension and sniffs .json', async () => {
    expect(await detectContainer(file('l.json', '{"a":1}\n{"a":2}\n'))).toBe('jsonl');
    expect(await detectContainer(file('o.json', '{\n "a": [1]\n}'))).toBe('json');
    expect(await detectContainer('x.tsv')).toBe('tsv');
    await expect(detectContainer('x.txt')).rejects.toThrow(/cannot tell/);
  });
  const cases: Array<[string[], ContainerFormat, number]> = [
    [['data', 'task', 'gsm8k_test.jsonl'], 'jsonl', 1319],
    [['data', 'task', 'humaneval.jsonl.gz'], 'jsonl', 164],
    [['data', 'task', 'sst2_glue_dev.tsv'], 'tsv', 872],
    [['data', 'benign', 'xstest_prompts.csv'], 'csv', 450],
    [['data', 'harmful', 'advbench_harmful_behaviors.csv'], 'csv', 520],
    [['data', 'harmful', 'stl_I-CoNa.json'], 'json', 178],
    [['data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json'], 'json', 2483],
  ];
  for (const [parts, fmt, n] of cases) {
    const p = sharedPath(...parts);
    it.skipIf(!p)(`reads ${parts.at(-1)} (${n} rows, no errors) ${p ? '' : SHARED_MISSING}`, async () => {
      expect(await detectContainer(p!)).toBe(fmt);
      const items = await all(p!, fmt);
      expect(items.filter((i) => i.kind === 'error')).toEqual([]);
      expect(items.length).toBe(n);
    });
  }
});

describe('readTable: a whole table with its required columns checked', () => {
  it('CSV: the first alternative the header has is used; rows are objects with their lines', async () => {
    const p = file('table.csv', 'id,question,answer\n1,"a, b",x\n2,c,\n');
    const issues: RowIssue[] = [];
    const t = await readTable(p, issues, { required: [['prompt', 'question'], 'answer'] });
    expect(t.columns).toEqual(['question', 'answer']);
    expect(t.rows).toEqual([
      { value: { id: '1', question: 'a, b', answer: 'x' }, row: 0, line: 2 },
      { value: { id: '2', question: 'c', answer: '' }, row: 1, line: 3 },
    ]);
    expect(issues).toEqual([]);
  });

  it('CSV: a missing column throws MissingColumnError from the header, line 1, naming the columns there', async () => {
    const p = file('nogoal.csv', 'question,target\nq,t\n');
    const err = (await readTable(p, [], { required: [['goal', 'prompt']] }).catch((e: unknown) => e)) as MissingColumnError;
    expect(err).toBeInstanceOf(MissingColumnError);
    expect({ file: err.file, line: err.line, column: err.column }).toEqual({ file: p, line: 1, column: 'goal' });
    expect(err.message).toBe(`${p}:1: missing column "goal" or "prompt" in the header (columns: question, target)`);
  });

  it('JSONL: every row needs the fields (the first row lacking one names its line); non-objects and bad rows are issues', async () => {
    const p = file('t.jsonl', '{"q":"a","r":"1"}\n[1,2]\nnot json\n{"q":"b","r":"2"}\n');
    const issues: RowIssue[] = [];
    const t = await readTable(p, issues, { required: ['q', 'r'] });
    expect(t.rows.map((r) => [r.value.q, r.line])).toEqual([
      ['a', 1],
      ['b', 4],
    ]);
    expect(issues.map((i) => [i.line, i.row, i.reason.slice(0, 25)])).toEqual([
      [2, 1, 'expected an object, got a'],
      [3, 2, 'invalid JSON: Unexpected '],
    ]);
    const missing = file('m.jsonl', '{"q":"a","r":"1"}\n{"q":"b"}\n');
    await expect(readTable(missing, [], { required: ['q', 'r'] })).rejects.toThrow(`${missing}:2: row 2: missing field "r" (fields: q)`);
  });
});
