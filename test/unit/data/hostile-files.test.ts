/**
 * Hostile data files: bounded rows (size and nesting), encodings (UTF-16/32, invalid UTF-8, CR-only
 * line ends, NUL bytes), corrupt gzip and Parquet, files that are not regular files, and files that
 * grow, shrink or vanish while they are read. Each rejection names the file (and the line/field).
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { openImport } from '../../../src/main/data/import';
import { type ContainerFormat, type RawItem, type ReadOptions, readDelimitedHeader, readRows } from '../../../src/main/data/readers';

const dir = mkdtempSync(join(tmpdir(), 'safetune-hostile-'));
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

const summary = (items: RawItem[]) => items.map((i) => (i.kind === 'row' ? { line: i.line, value: i.value } : { line: i.line, error: i.reason }));

async function importAll(p: string): Promise<{ records: string[]; rejected: string[] }> {
  const imp = await openImport(p);
  const records: string[] = [];
  const rejected: string[] = [];
  for await (const it of imp.items) {
    if (it.kind === 'record') records.push(it.record.prompt);
    else rejected.push(it.rejected.message);
  }
  return { records, rejected };
}

const row = (prompt: string) => JSON.stringify({ prompt, response: 'r' });

describe('row size limit', () => {
  it('rejects a JSONL line over the limit with its line number, without keeping it, and reads on', async () => {
    const p = file('long.jsonl', [row('a'), row('x'.repeat(5000)), row('b')].join('\n') + '\n');
    const items = await all(p, 'jsonl', { limits: { rowBytes: 1000 }, chunkSize: 256 });
    expect(summary(items)).toEqual([
      { line: 1, value: { prompt: 'a', response: 'r' } },
      { line: 2, error: 'row is 5 KB, over the 1000 bytes limit for one row: skipped' },
      { line: 3, value: { prompt: 'b', response: 'r' } },
    ]);
    // Resuming after the long line continues with the next one.
    expect(summary(await all(p, 'jsonl', { resume: items[1]!.next, limits: { rowBytes: 1000 } }))).toEqual(summary(items.slice(2)));
  });
  it('applies the default 16 MB limit: a 40 MB row is rejected by the import, the rest imported', async () => {
    const p = file('big-row.jsonl', [row('a'), row('y'.repeat(40 * 2 ** 20)), row('b')].join('\n'));
    const { records, rejected } = await importAll(p);
    expect(records).toEqual(['a', 'b']);
    expect(rejected).toEqual(['big-row.jsonl:2: row is 40.0 MB, over the 16 MB limit for one row: skipped']);
  });
  it('rejects a JSON array element over the limit and reads the elements after it', async () => {
    const p = file('long.json', `[${row('a')},\n${row('z'.repeat(5000))},\n${row('b')}]`);
    const items = await all(p, 'json', { limits: { rowBytes: 1000 }, chunkSize: 100 });
    expect(summary(items)).toEqual([
      { line: 1, value: { prompt: 'a', response: 'r' } },
      { line: 2, error: expect.stringMatching(/^row is 5 KB, over the 1000 bytes limit/) },
      { line: 3, value: { prompt: 'b', response: 'r' } },
    ]);
  });
  it('rejects a CSV record over the limit (a long quoted field, or an unclosed quote) and reads on', async () => {
    const p = file('long.csv', `prompt,response\na,1\n"${'q'.repeat(5000)}\n${'q'.repeat(5000)}",2\nb,3\n`);
    expect(summary(await all(p, 'csv', { limits: { rowBytes: 1000 }, chunkSize: 64 }))).toEqual([
      { line: 2, value: { prompt: 'a', response: '1' } },
      { line: 3, error: expect.stringMatching(/^row is 10 KB, over the 1000 bytes limit/) },
      { line: 5, value: { prompt: 'b', response: '3' } },
    ]);
    const open = file('open.csv', `prompt,response\na,1\n"never closed,2\n${'c,3\n'.repeat(2000)}`);
    expect(summary(await all(open, 'csv', { limits: { rowBytes: 1000 } }))).toEqual([
      { line: 2, value: { prompt: 'a', response: '1' } },
      { line: 3, error: 'a quoted field starts on this line and is never closed (the quote runs to the end of the file)' },
    ]);
  });
  it('refuses a CSV header with more columns than the limit, naming the file', async () => {
    const p = file('wide.csv', `${Array.from({ length: 20_000 }, (_, k) => `c${k}`).join(',')}\n1,2\n`);
    await expect(all(p, 'csv')).rejects.toThrow(`${p}: the header (line 1) has more than 10000 columns; at most 10000 are supported`);
  });
});

describe('nesting limit', () => {
  const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);
  it('rejects one deeply nested JSONL row instead of failing the whole import', async () => {
    const p = file('deep.jsonl', [row('a'), JSON.stringify({ prompt: 'x', response: 'y' }).replace('}', `,"meta":${deep(20_000)}}`), row('b')].join('\n'));
    const { records, rejected } = await importAll(p);
    expect(records).toEqual(['a', 'b']);
    expect(rejected).toEqual(['deep.jsonl:2: nested more than 64 levels deep (arrays/objects inside one another): skipped']);
  });
  it('counts depth outside strings only, and allows exactly the limit', async () => {
    const ok = JSON.stringify({ prompt: '[[[[[[[[', response: '{{{{' });
    const p = file('depth.jsonl', `${ok}\n${'['.repeat(3)}"]]]]]]]]]\\"[[["${']'.repeat(3)}\n${deep(4)}\n`);
    expect(summary(await all(p, 'jsonl', { limits: { depth: 3 } }))).toEqual([
      { line: 1, value: JSON.parse(ok) },
      { line: 2, value: [[[']]]]]]]]]"[[[']]] },
      { line: 3, error: expect.stringMatching(/^nested more than 3 levels deep/) },
    ]);
  });
  it('rejects a deeply nested JSON array element and reads on', async () => {
    const p = file('deep.json', `[${row('a')}, {"prompt":"x","meta":${deep(20_000)}}, ${row('b')}]`);
    const items = await all(p, 'json');
    expect(items.map((i) => (i.kind === 'row' ? (i.value as { prompt: string }).prompt : i.reason))).toEqual([
      'a',
      expect.stringMatching(/^nested more than 64 levels deep/),
      'b',
    ]);
  });
});

describe('encodings', () => {
  const text = `${row('a')}\n${row('b')}\n`;
  const csv = 'prompt,response\na,1\nb,2\n';
  for (const [name, bytes] of [
    ['le-bom', Buffer.from(`\uFEFF${text}`, 'utf16le')],
    ['le', Buffer.from(text, 'utf16le')],
    ['be-bom', Buffer.from(`\uFEFF${text}`, 'utf16le').swap16()],
    ['be', Buffer.from(text, 'utf16le').swap16()],
  ] as const) {
    it(`refuses UTF-16 (${name}) JSONL, JSON and CSV, saying to save it as UTF-8`, async () => {
      const j = file(`u16-${name}.jsonl`, bytes);
      await expect(openImport(j)).rejects.toThrow(new RegExp(`^${j.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} (is|looks like) UTF-16 text.*save it as UTF-8`));
      const c = file(`u16-${name}.csv`, name.startsWith('be') ? Buffer.from(csv, 'utf16le').swap16() : Buffer.from(csv, 'utf16le'));
      await expect(all(c, 'csv')).rejects.toThrow(/u16-.*\.csv (is|looks like) UTF-16 text/);
      const a = file(`u16-${name}.json`, Buffer.from(`[${row('a')}]`, 'utf16le'));
      await expect(all(a, 'json')).rejects.toThrow(/u16-.*\.json (is|looks like) UTF-16 text/);
    });
  }
  it('rejects a row with invalid UTF-8, naming the byte and where it is, and keeps the others', async () => {
    const bad = Buffer.concat([Buffer.from('{"prompt":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('","response":"r"}')]);
    const p = file('latin.jsonl', Buffer.concat([Buffer.from(`${row('a')}\n`), bad, Buffer.from(`\n${row('b')}\n`)]));
    const { records, rejected } = await importAll(p);
    expect(records).toEqual(['a', 'b']);
    expect(rejected).toEqual(['latin.jsonl:2: not valid UTF-8 (byte 0xC3 at column 15): save the file as UTF-8 and import it again']);

    const c = file('latin.csv', Buffer.concat([Buffer.from('prompt,response\nok,1\ncaf'), Buffer.from([0xe9]), Buffer.from(',2\nfine,3\n')]));
    expect(summary(await all(c, 'csv'))).toEqual([
      { line: 2, value: { prompt: 'ok', response: '1' } },
      { line: 3, error: 'field "prompt" is not valid UTF-8 (byte 0xE9 at byte 4 of the field): save the file as UTF-8 and import it again' },
      { line: 4, value: { prompt: 'fine', response: '3' } },
    ]);
    const j = file('latin.json', Buffer.concat([Buffer.from(`[${row('a')},\n{"prompt":"`), Buffer.from([0xff]), Buffer.from('"}]')]));
    expect(summary(await all(j, 'json'))).toEqual([
      { line: 1, value: { prompt: 'a', response: 'r' } },
      { line: 2, error: 'not valid UTF-8 (byte 0xFF at line 2, column 12): save the file as UTF-8 and import it again' },
    ]);
  });
  it('refuses a CSV header that is not UTF-8', async () => {
    const p = file('latin-header.csv', Buffer.concat([Buffer.from('prompt,r'), Buffer.from([0xe9]), Buffer.from('ponse\na,b\n')]));
    await expect(readDelimitedHeader(p, ',')).rejects.toThrow(`${p}: the header (line 1) is not valid UTF-8 (byte 0xE9 in column 2)`);
  });
  it('rejects a CSV/TSV field holding a NUL byte, and refuses a file that is mostly NUL bytes', async () => {
    expect(summary(await all(file('nul.tsv', 'prompt\tresponse\na\0b\t1\nc\t2\n'), 'tsv'))).toEqual([
      { line: 2, error: 'field "prompt" holds a NUL byte (at byte 2 of the field): binary data is not imported' },
      { line: 3, value: { prompt: 'c', response: '2' } },
    ]);
    const z = file('zeros.jsonl', Buffer.alloc(100_000));
    await expect(openImport(z)).rejects.toThrow(`${z} is not a text file (100% of its first bytes are NUL)`);
  });
  it('reads CR-only line ends (classic Mac OS) as line breaks, with the right line numbers', async () => {
    const j = file('mac.jsonl', `${row('a')}\r${row('b')}\r\r${row('c')}\r`);
    expect((await all(j, 'jsonl')).map((i) => [i.line, (i as { value: { prompt: string } }).value.prompt])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [4, 'c'],
    ]);
    const c = file('mac.csv', 'prompt,response\r"two\nlines",1\rb,2\r');
    expect(summary(await all(c, 'csv'))).toEqual([
      { line: 2, value: { prompt: 'two\nlines', response: '1' } },
      { line: 3, value: { prompt: 'b', response: '2' } },
    ]);
    expect(await readDelimitedHeader(c, ',')).toEqual(['prompt', 'response']);
    expect((await importAll(file('mac.tsv', 'prompt\tresponse\ra\t1\rb\t2'))).records).toEqual(['a', 'b']);
  });
});

describe('gzip', () => {
  const body = Array.from({ length: 2000 }, (_, k) => row(`prompt ${k}`)).join('\n');
  const gz = gzipSync(body);
  it('reads .gz transparently', async () => {
    expect((await importAll(file('ok.jsonl.gz', gz))).records).toHaveLength(2000);
  });
  it('says a truncated gzip file is truncated, naming it', async () => {
    const p = file('cut.jsonl.gz', gz.subarray(0, gz.length - 100));
    await expect(importAll(p)).rejects.toThrow(`${p} is a truncated gzip file (the compressed data ends early): copy or download it again`);
  });
  it('says a corrupt gzip file is corrupt, and a plain file named .gz is not gzip', async () => {
    const bad = Buffer.from(gz);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    const p = file('bad.jsonl.gz', bad);
    await expect(importAll(p)).rejects.toThrow(
      new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a valid gzip file \\(corrupt compressed data: `),
    );
    const plain = file('plain.csv.gz', 'prompt,response\na,b\n');
    await expect(all(plain, 'csv')).rejects.toThrow(`${plain} is not gzip-compressed although its name ends in .gz`);
    const empty = file('empty.jsonl.gz', '');
    await expect(all(empty, 'jsonl')).rejects.toThrow(`${empty} is empty: it holds no gzip data`);
  });
});

describe('parquet', () => {
  const n = 30;
  const valid = Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: 'prompt', data: Array.from({ length: n }, (_, k) => `p${k}`), type: 'STRING' },
        { name: 'response', data: Array.from({ length: n }, (_, k) => `r${k}`), type: 'STRING' },
      ],
      rowGroupSize: 10,
    }),
  );
  it('refuses a file whose footer cannot be read, in words, naming it', async () => {
    const cut = file('cut.parquet', valid.subarray(0, valid.length - 20));
    await expect(all(cut, 'parquet')).rejects.toThrow(`${cut} is not a valid Parquet file: its footer cannot be read`);
    const flipped = Buffer.from(valid);
    flipped.writeUInt32LE(valid.length, valid.length - 8); // footer length past the start of the file
    const f = file('footer.parquet', flipped);
    await expect(all(f, 'parquet')).rejects.toThrow(`${f} is not a valid Parquet file: its footer cannot be read`);
    const empty = file('empty.parquet', '');
    await expect(all(empty, 'parquet')).rejects.toThrow(`${empty} is not a valid Parquet file: it is empty`);
  });
  it('rejects the rows of an unreadable row group and reads the other groups; leaves no read pending when the file then goes away', async () => {
    // Corrupt the data pages of the second row group (between its first and last byte).
    const { parquetMetadata } = await import('hyparquet');
    const meta = parquetMetadata(valid.buffer.slice(valid.byteOffset, valid.byteOffset + valid.length) as ArrayBuffer);
    const col = meta.row_groups[1]!.columns[0]!.meta_data!;
    const bad = Buffer.from(valid);
    const start = Number(col.data_page_offset);
    for (let k = start; k < start + Number(col.total_compressed_size); k++) bad[k] = 0xff;
    const p = file('group.parquet', bad);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const items = await all(p, 'parquet');
      unlinkSync(p);
      await new Promise((r) => setTimeout(r, 200));
      expect(items.filter((i) => i.kind === 'row').map((i) => (i as { value: { prompt: string } }).value.prompt)).toEqual([
        ...Array.from({ length: 10 }, (_, k) => `p${k}`),
        ...Array.from({ length: 10 }, (_, k) => `p${20 + k}`),
      ]);
      const errors = items.filter((i) => i.kind === 'error');
      expect(errors).toEqual([
        expect.objectContaining({
          row: 10,
          reason: expect.stringMatching(/^rows 11–20 \(row group 2 of 3\) cannot be read, the file is corrupt there \(.*\): skipped$/),
        }),
      ]);
      expect(errors[0]!.next.row).toBe(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
  it('rejects a string value that is not valid UTF-8 instead of replacing its bytes', async () => {
    const p = file(
      'bytes.parquet',
      parquetWriteBuffer({
        columnData: [
          { name: 'prompt', data: [new TextEncoder().encode('fine'), new Uint8Array([0x63, 0x61, 0x66, 0xc3, 0x28])], type: 'BYTE_ARRAY' },
          { name: 'response', data: ['a', 'b'], type: 'STRING' },
        ],
      }),
    );
    expect((await all(p, 'parquet')).map((i) => (i.kind === 'row' ? i.value : i.reason))).toEqual([
      { prompt: 'fine', response: 'a' },
      'field "prompt" is not valid UTF-8 (byte 0xC3 at byte 4 of the value): save the file as UTF-8 and import it again',
    ]);
  });
});

describe('files that are not plain, steady files', () => {
  it('refuses a folder, a FIFO and a device at once, naming them', async () => {
    const d = join(dir, 'folder.jsonl');
    mkdirSync(d);
    await expect(openImport(d)).rejects.toThrow(`${d} is a folder, not a data file`);
    const fifo = join(dir, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    await expect(all(fifo, 'csv')).rejects.toThrow(`${fifo} is not a regular file (a pipe, device or socket)`);
    await expect(openImport(fifo)).rejects.toThrow(/is not a regular file/);
    await expect(all('/dev/zero', 'jsonl')).rejects.toThrow('/dev/zero is not a regular file');
    await expect(all(join(dir, 'nope.jsonl'), 'jsonl')).rejects.toThrow(`${join(dir, 'nope.jsonl')} does not exist (ENOENT)`);
  });
  it('reads a file that keeps growing only up to the size it had when reading began', async () => {
    const p = file('growing.jsonl', Array.from({ length: 100 }, (_, k) => row(`p${k}`)).join('\n') + '\n');
    let n = 0;
    for await (const it of readRows(p, 'jsonl', { chunkSize: 64 })) {
      expect(it.kind).toBe('row');
      if (n++ % 10 === 0) appendFileSync(p, Array.from({ length: 50 }, () => row('appended')).join('\n') + '\n');
    }
    expect(n).toBe(100);
  });
  it('says so when a file gets shorter while it is read', async () => {
    const p = file('shrinking.csv', `prompt,response\n${Array.from({ length: 2000 }, (_, k) => `p${k},r`).join('\n')}\n`);
    const seen: string[] = [];
    const read = async () => {
      for await (const it of readRows(p, 'csv', { chunkSize: 256 })) {
        seen.push(it.kind);
        if (seen.length === 5) truncateSync(p, 300);
      }
    };
    await expect(read()).rejects.toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} got shorter while it was being read`));
  });
  it('finishes reading a file deleted mid-import', async () => {
    const p = file('vanishing.jsonl', Array.from({ length: 3000 }, (_, k) => row(`p${k}`)).join('\n'));
    const imp = await openImport(p);
    let n = 0;
    for await (const it of imp.items) {
      if (n++ === 0) unlinkSync(p);
      expect(it.kind).toBe('record');
    }
    expect(n).toBe(3000);
  });
});

describe('CSV/TSV header (eval suites)', () => {
  it('reads only the first record: quoted names with line breaks, a BOM, CRLF, gzip, a file larger than any buffer', async () => {
    const rows = Array.from({ length: 50_000 }, (_, k) => `prompt ${k},"a, b",x`).join('\r\n');
    const p = file('big.csv', `\uFEFF"prom""pt","multi\r\nline",category\r\n${rows}\r\n`);
    expect(await readDelimitedHeader(p, ',')).toEqual(['prom"pt', 'multi\r\nline', 'category']);
    expect(await readDelimitedHeader(file('big.csv.gz', gzipSync(`goal,target\n${rows}\n`)), ',')).toEqual(['goal', 'target']);
    expect(await readDelimitedHeader(file('h.tsv', 'sentence\t"label"\n"a\tb\n'), '\t')).toEqual(['sentence', '"label"']);
    expect(await readDelimitedHeader(file('empty.csv', '\n\n'), ',')).toEqual([]);
  });
});
