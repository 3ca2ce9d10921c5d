/**
 * Files for the data-import fuzz test: valid JSONL / JSON / CSV / TSV / Parquet files (and gzip of
 * each) mutated with a seeded generator (truncation, bit flips, byte insertions, splices,
 * duplicated segments), hostile constructions (deep nesting, long lines, giant claimed lengths,
 * invalid UTF-8, UTF-16 with and without BOM, CR-only line ends, NUL bytes, empty files, huge
 * column counts, non-regular files), and a separate set of large hostile files written sparsely or
 * streamed (hundreds of MB to 1 GB each, a few hundred MB of real disk at most).
 *
 * Each file is named `<case>.<ext>` so that the import detects its container from the name; the
 * case's `loader` is `<format>:<kind>`, kind being one of the entry points in data-loaders.ts.
 */
import { closeSync, createWriteStream, ftruncateSync, mkdirSync, openSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { mulberry32 } from '../../../src/main/util/prng';
import type { FuzzCase } from './harness';

export const LOADER_KINDS = ['read', 'import', 'job'] as const;
export type LoaderKind = (typeof LOADER_KINDS)[number];

/** The format label of a file name: its extension, ".gz" kept (e.g. "csv.gz"). */
export function formatOf(file: string): string {
  const m = /\.((?:jsonl|json|csv|tsv|parquet)(?:\.gz)?)$/.exec(file);
  return m ? m[1]! : 'other';
}

const ROWS = [
  { instruction: 'Add 2 and 3', input: '', output: '5' },
  { instruction: 'Say "hi", politely', input: 'to a friend', output: 'Hello, friend!' },
  { instruction: 'Translate: ünïcödé 日本語 🙂', input: '', output: 'unicode' },
  { instruction: 'Line one\nline two', input: '', output: 'two lines' },
  { instruction: 'How do I pick a lock?', input: '', output: 'I cannot help with that.' },
  { instruction: 'Name a colour', input: '', output: 'Blue' },
  { instruction: 'Comma, separated, words', input: '', output: 'ok' },
  { instruction: 'Tab\tinside', input: '', output: 'tab' },
];

function rows(n: number): typeof ROWS {
  return Array.from({ length: n }, (_, k) => ({ ...ROWS[k % ROWS.length]!, instruction: `${ROWS[k % ROWS.length]!.instruction} #${k}` }));
}

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** Valid files, one per container, as bytes. */
export function validFiles(): Record<string, Buffer> {
  const r = rows(24);
  const tsvRows = r.map((x) => [x.instruction, x.input, x.output].map((f) => f.replace(/[\t\n]/g, ' ')).join('\t'));
  return {
    jsonl: Buffer.from(r.map((x) => JSON.stringify(x)).join('\n') + '\n'),
    json: Buffer.from(JSON.stringify(r, null, 1)),
    csv: Buffer.from(['instruction,input,output', ...r.map((x) => [x.instruction, x.input, x.output].map(csvField).join(','))].join('\r\n') + '\r\n'),
    tsv: Buffer.from(['instruction\tinput\toutput', ...tsvRows].join('\n') + '\n'),
    parquet: Buffer.from(
      parquetWriteBuffer({
        columnData: [
          { name: 'instruction', data: r.map((x) => x.instruction), type: 'STRING' },
          { name: 'input', data: r.map((x) => x.input), type: 'STRING' },
          { name: 'output', data: r.map((x) => x.output), type: 'STRING' },
          { name: 'n', data: r.map((_, k) => k), type: 'INT32' },
        ],
        rowGroupSize: 10,
      }),
    ),
  };
}

type Rand = () => number;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);

/** Structural mutations of a byte string; `focusTail` aims half of them at the last 1 KB (Parquet's footer, gzip's trailer). */
function mutations(b: Buffer, rand: Rand, focusTail: boolean): Array<[string, Buffer]> {
  const pos = (): number => (focusTail && rand() < 0.5 ? Math.max(0, b.length - 1 - int(rand, Math.min(1024, b.length))) : int(rand, b.length));
  const out: Array<[string, Buffer]> = [];
  for (let k = 0; k < 3; k++) {
    const at = pos();
    out.push([`truncate@${at}`, b.subarray(0, at)]);
  }
  for (const flips of [1, 1, 4, 16, 64]) {
    const c = Buffer.from(b);
    for (let k = 0; k < flips; k++) {
      const at = pos();
      c[at] = c[at]! ^ (1 << int(rand, 8));
    }
    out.push([`flip${flips}`, c]);
  }
  for (const n of [1, 7, 100]) {
    const at = pos();
    const ins = Buffer.from(Array.from({ length: n }, () => int(rand, 256)));
    out.push([`insert${n}@${at}`, Buffer.concat([b.subarray(0, at), ins, b.subarray(at)])]);
  }
  for (let k = 0; k < 2; k++) {
    const from = int(rand, b.length);
    const len = 1 + int(rand, Math.min(200, b.length - from));
    const at = pos();
    out.push([`splice${len}@${at}`, Buffer.concat([b.subarray(0, at), b.subarray(from, from + len), b.subarray(at + len)])]);
  }
  for (let k = 0; k < 2; k++) {
    const from = int(rand, b.length);
    const len = 1 + int(rand, Math.min(400, b.length - from));
    out.push([`dup${len}@${from}`, Buffer.concat([b.subarray(0, from + len), b.subarray(from, from + len), b.subarray(from + len)])]);
  }
  return out;
}

const deep = (d: number, inner = '1') => '['.repeat(d) + inner + ']'.repeat(d);
const utf16 = (s: string, be: boolean, bom: boolean) => {
  const le = Buffer.from((bom ? '\uFEFF' : '') + s, 'utf16le');
  if (be) le.swap16();
  return le;
};

/** Hostile small files: [name (with extension), contents]. */
function hostileFiles(): Array<[string, Buffer | string]> {
  const jsonlText = validFiles().jsonl.toString();
  const csvText = validFiles().csv.toString();
  const tsvText = validFiles().tsv.toString();
  const jsonText = validFiles().json.toString();
  const wide = Array.from({ length: 100_000 }, (_, k) => `c${k}`);
  const out: Array<[string, Buffer | string]> = [
    // Deep nesting, in a line, an element, a field, a whole file.
    ['deep-line.jsonl', `{"prompt":"ok","response":"fine"}\n{"prompt":${deep(20_000)}}\n{"prompt":"after","response":"x"}\n`],
    ['deep-object.jsonl', `{"prompt":"ok","response":"a"}\n${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}\n`],
    ['deep-label.jsonl', `{"prompt":"ok","response":"a","meta":${deep(5000)}}\n{"prompt":"b","response":"c"}\n`],
    ['deep-element.json', `[{"prompt":"ok","response":"a"},{"prompt":"x","meta":${deep(20_000)}},{"prompt":"b","response":"c"}]`],
    ['deep-file.json', deep(200_000)],
    ['deep-key.json', `{"data":${deep(50_000)}}`],
    ['deep-field.csv', `prompt,response,category\nok,a,"${deep(20_000)}"\nb,c,\n`],
    // Top-level scalars and odd JSON.
    ['scalar.json', '42'],
    ['string.json', '"just a string"'],
    ['null.json', 'null'],
    ['object-no-array.json', '{"a":1,"b":{"c":2}}'],
    ['unclosed.json', '[{"prompt":"a","response":"b"},{"prompt":"c'],
    ['garbage-after.json', '[{"prompt":"a","response":"b"}] trailing {'],
    // Encodings.
    [
      'invalid-utf8.jsonl',
      Buffer.concat([
        Buffer.from('{"prompt":"good","response":"x"}\n{"prompt":"bad \xc3'),
        Buffer.from([0x28]),
        Buffer.from('","response":"y"}\n{"prompt":"also good","response":"z"}\n'),
      ]),
    ],
    [
      'invalid-utf8-bytes.jsonl',
      Buffer.concat([Buffer.from('{"prompt":"a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('","response":"b"}\n{"prompt":"c","response":"d"}\n')]),
    ],
    ['invalid-utf8.csv', Buffer.concat([Buffer.from('prompt,response\ngood,x\nbad '), Buffer.from([0xe9, 0x20]), Buffer.from('latin1,y\nfine,z\n')])],
    ['invalid-utf8.tsv', Buffer.concat([Buffer.from('prompt\tresponse\ngood\tx\n'), Buffer.from([0xc0, 0xaf]), Buffer.from('\ty\n')])],
    [
      'invalid-utf8.json',
      Buffer.concat([Buffer.from('[{"prompt":"a","response":"b"},{"prompt":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","response":"c"}]')]),
    ],
    ['latin1-header.csv', Buffer.concat([Buffer.from('prompt,r'), Buffer.from([0xe9]), Buffer.from('ponse\na,b\n')])],
    ['bom-only.jsonl', '\uFEFF'],
    ['bom-only.csv', '\uFEFF'],
    // Line ends.
    ['cr-only.jsonl', jsonlText.replace(/\n/g, '\r')],
    ['cr-only.csv', csvText.replace(/\r\n/g, '\r')],
    ['cr-only.tsv', tsvText.replace(/\n/g, '\r')],
    ['cr-only.json', jsonText.replace(/\n/g, '\r')],
    ['mixed-eol.jsonl', jsonlText.replace(/\n/g, (_m, o: number) => (o % 3 ? '\r\n' : '\n'))],
    // NUL bytes.
    ['nul-in-line.jsonl', '{"prompt":"a\0b","response":"c"}\n{"prompt":"d","response":"e"}\n\0\0\0\n'],
    ['nul-field.csv', 'prompt,response\na\0b,c\nd,e\n'],
    ['nul-field.tsv', 'prompt\tresponse\na\0b\tc\nd\te\n'],
    ['nul-only.jsonl', Buffer.alloc(1 << 20)],
    ['nul-only.csv', Buffer.alloc(1 << 20)],
    ['nul-only.json', Buffer.alloc(1 << 20)],
    ['nul-only.parquet', Buffer.alloc(1 << 16)],
    // Empty and near-empty.
    ...(['jsonl', 'json', 'csv', 'tsv', 'parquet'] as const).map((e): [string, string] => [`empty.${e}`, '']),
    ['blank-lines.jsonl', '\n\n   \n\r\n'],
    ['header-only.csv', 'prompt,response\n'],
    ['whitespace.json', '   \n  '],
    // Huge column counts and wide rows.
    ['wide-header.csv', `${wide.join(',')}\n${wide.map((_, k) => k).join(',')}\n`],
    ['wide-header.tsv', `${wide.join('\t')}\n${wide.map((_, k) => k).join('\t')}\n`],
    ['wide-object.jsonl', `${JSON.stringify(Object.fromEntries(wide.map((c) => [c, 1])))}\n{"prompt":"a","response":"b"}\n`],
    ['many-keys-label.jsonl', `${JSON.stringify({ prompt: 'p', response: 'r', ...Object.fromEntries(wide.map((c) => [c, 'v'])) })}\n`],
    // CSV quoting trouble.
    ['unterminated-quote.csv', 'prompt,response\na,b\n"never closed,c\nd,e\nf,g\n'],
    ['quote-in-field.csv', 'prompt,response\na"b,c\n"x"y,z\nok,fine\n'],
    ['ragged.csv', 'prompt,response\na\nb,c,d,e\nf,g\n'],
    ['only-quotes.csv', '"'.repeat(100_000)],
    // Parquet shapes.
    ['text.parquet', 'this is not parquet at all, just text'],
    ['magic-only.parquet', 'PAR1PAR1'],
    ['footer-len-huge.parquet', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('PAR1')])],
  ];
  // UTF-16 (LE, BE; with and without BOM) and UTF-32 of each text container.
  const texts: Record<string, string> = { jsonl: jsonlText, json: jsonText, csv: csvText, tsv: tsvText };
  for (const [ext, text] of Object.entries(texts)) {
    out.push([`utf16le-bom.${ext}`, utf16(text, false, true)]);
    out.push([`utf16be-bom.${ext}`, utf16(text, true, true)]);
    out.push([`utf16le.${ext}`, utf16(text, false, false)]);
    out.push([`utf16be.${ext}`, utf16(text, true, false)]);
  }
  out.push([
    'utf32le-bom.jsonl',
    Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), ...[...'{"prompt":"a","response":"b"}\n'].map((c) => Buffer.from([c.charCodeAt(0), 0, 0, 0]))]),
  ]);
  return out;
}

/** Parquet files whose footer claims absurd lengths or counts (patched after writing). */
function hostileParquet(valid: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  const metaLen = valid.readUInt32LE(valid.length - 8);
  const metaStart = valid.length - 8 - metaLen;
  // Footer length claiming the whole file, or one byte too short or too long.
  for (const [name, len] of [
    ['footer-len-file', valid.length],
    ['footer-len-short', metaLen - 1],
    ['footer-len-long', metaLen + 1],
  ] as const) {
    const c = Buffer.from(valid);
    c.writeUInt32LE(len, c.length - 8);
    out.push([`${name}.parquet`, c]);
  }
  // Every varint in the footer set to its maximum, one at a time (claimed sizes, offsets, counts).
  let n = 0;
  for (let i = metaStart; i < valid.length - 8 && n < 40; i++) {
    if ((valid[i]! & 0x80) === 0 && i > metaStart && (valid[i - 1]! & 0x80) !== 0) {
      const c = Buffer.from(valid);
      let j = i - 1;
      while (j > metaStart && (c[j - 1]! & 0x80) !== 0) j--;
      for (let k = j; k < i; k++) c[k] = 0xff;
      c[i] = 0x3f;
      out.push([`footer-varint-max${n++}.parquet`, c]);
    }
  }
  return out;
}

/** The small, seeded case set: every file is written into `dir`. */
export function smallCases(dir: string, seed: number): FuzzCase[] {
  const rand = mulberry32(seed);
  const files: Array<[string, Buffer | string]> = [];
  const valid = validFiles();
  for (const [ext, b] of Object.entries(valid)) {
    files.push([`valid.${ext}`, b]);
    for (const [id, m] of mutations(b, rand, ext === 'parquet')) files.push([`${id}.${ext}`, m]);
    if (ext === 'parquet') {
      files.push(...hostileParquet(b));
      files.push([`valid.parquet.gz`, gzipSync(b)]);
      continue;
    }
    const gz = gzipSync(b);
    files.push([`valid.${ext}.gz`, gz]);
    // Corrupt gzip: mutate the compressed bytes (header, deflate stream, trailer).
    for (const [id, m] of mutations(gz, rand, true)) files.push([`${id}.${ext}.gz`, m]);
    files.push([`concat.${ext}.gz`, Buffer.concat([gz, gz.subarray(0, 20)])]);
    files.push([`not-gzip.${ext}.gz`, b]);
    files.push([`gz-header-only.${ext}.gz`, gz.subarray(0, 10)]);
  }
  for (const [name, b] of hostileFiles()) files.push([name, b]);
  files.push(['hostile-utf16.jsonl.gz', gzipSync(utf16(valid.jsonl.toString(), false, true))]);
  files.push(['deep-line.jsonl.gz', gzipSync(`{"prompt":${deep(20_000)}}\n{"prompt":"a","response":"b"}\n`)]);

  const cases: FuzzCase[] = [];
  const add = (name: string) => {
    for (const kind of LOADER_KINDS) cases.push({ id: name, loader: `${formatOf(name)}:${kind}`, file: join(dir, name) });
  };
  for (const [name, b] of files) {
    writeFileSync(join(dir, name), b);
    add(name);
  }
  // Things that are not regular files, and a file that is not there.
  mkdirSync(join(dir, 'a-directory.jsonl'));
  add('a-directory.jsonl');
  add('missing.jsonl');
  if (process.platform === 'win32') return cases;
  execFileSync('mkfifo', [join(dir, 'fifo.csv')]);
  add('fifo.csv');
  execFileSync('mkfifo', [join(dir, 'fifo.json')]);
  add('fifo.json');
  symlinkSync('/dev/zero', join(dir, 'dev-zero.jsonl'));
  add('dev-zero.jsonl');
  symlinkSync('/dev/urandom', join(dir, 'dev-urandom.csv'));
  add('dev-urandom.csv');
  symlinkSync('/dev/zero', join(dir, 'dev-zero.parquet'));
  add('dev-zero.parquet');
  return cases;
}

/** Writes `size` bytes of `value` to fd at `at`, 8 MB at a time. */
function fill(fd: number, at: number, size: number, value: number): void {
  const block = Buffer.alloc(8 << 20, value);
  for (let done = 0; done < size; done += block.length) writeSync(fd, block, 0, Math.min(block.length, size - done), at + done);
}

/** A file made of parts: strings/buffers written as they are, `{hole: n}` a sparse run of n NUL bytes, `{fill, n}` n real bytes. */
function writeParts(path: string, parts: Array<string | Buffer | { hole: number } | { fill: number; n: number }>): void {
  const fd = openSync(path, 'w');
  let at = 0;
  try {
    for (const p of parts) {
      if (typeof p === 'string' || Buffer.isBuffer(p)) {
        const b = Buffer.from(p);
        writeSync(fd, b, 0, b.length, at);
        at += b.length;
      } else if ('hole' in p) at += p.hole;
      else {
        fill(fd, at, p.n, p.fill);
        at += p.n;
      }
    }
    ftruncateSync(fd, at); // a file ending in a hole still gets its full size
  } finally {
    closeSync(fd);
  }
}

const MB = 1 << 20;

/** Valid rows of a text container, as bytes: at least 64 KB, so that the readers' first look at a file sees text. */
function textPrefix(ext: 'jsonl' | 'csv' | 'tsv'): Buffer {
  const r = rows(3000);
  if (ext === 'jsonl') return Buffer.from(r.map((x) => JSON.stringify(x)).join('\n') + '\n');
  if (ext === 'csv')
    return Buffer.from(['instruction,input,output', ...r.map((x) => [x.instruction, x.input, x.output].map(csvField).join(','))].join('\r\n') + '\r\n');
  return Buffer.from(
    ['instruction\tinput\toutput', ...r.map((x) => [x.instruction, x.input, x.output].map((f) => f.replace(/[\t\n]/g, ' ')).join('\t'))].join('\n') + '\n',
  );
}

/**
 * The large hostile files (created in `dir`; about 320 MB of real disk, the rest sparse holes that
 * read as NUL bytes), each with the loader kinds worth running on it and the outcome expected: each
 * starts with valid rows, so a reader that skips the giant row goes on and imports the rest.
 */
export async function largeCases(dir: string): Promise<Array<FuzzCase & { expect: 'accepted' | 'rejected' }>> {
  const cases: Array<FuzzCase & { expect: 'accepted' | 'rejected' }> = [];
  const add = (name: string, kinds: readonly LoaderKind[], parts: Parameters<typeof writeParts>[1], expect: 'accepted' | 'rejected' = 'accepted') => {
    writeParts(join(dir, name), parts);
    for (const kind of kinds) cases.push({ id: name, loader: `${formatOf(name)}:${kind}`, file: join(dir, name), expect });
  };
  const X = 0x78;
  const jsonl = textPrefix('jsonl');
  const after = '\n{"instruction":"after","input":"","output":"ok"}\n';
  // The cases: one 300 MB JSONL row, a 600 MB line; then the same shapes in other containers.
  add('single-row-300mb.jsonl', ['import', 'job'], ['{"instruction":"', { fill: X, n: 300 * MB }, '","input":"","output":"r"}', after]);
  add('line-600mb.jsonl', ['import'], [jsonl, { hole: 600 * MB }, after]);
  add('row-just-under-limit.jsonl', ['import', 'job'], ['{"instruction":"', { fill: X, n: 16 * MB - 64 }, '","input":"","output":"r"}\n']);
  const json = jsonl.toString().trim().split('\n').join(',\n');
  add('element-1gb.json', ['import'], [`[${json},{"instruction":"`, { hole: 1024 * MB }, '","output":"x"},{"instruction":"c","input":"","output":"d"}]']);
  add('field-1gb.csv', ['import'], [textPrefix('csv'), '"', { hole: 1024 * MB }, '",x,y\r\nc,,d\r\n']);
  add('unterminated-quote-600mb.csv', ['import'], [textPrefix('csv'), '"', { hole: 600 * MB }]);
  add('line-600mb.tsv', ['import'], [textPrefix('tsv'), { hole: 600 * MB }, '\nc\t\td\n']);
  // A gzip bomb: valid rows, then 600 MB of spaces without a line break, in under 1 MB.
  const bomb = createGzip({ level: 9 });
  const spaces = Buffer.alloc(8 * MB, 0x20);
  const feed = (async function* () {
    yield jsonl;
    for (let k = 0; k < 75; k++) yield spaces;
    yield Buffer.from(after);
  })();
  await pipeline(feed, bomb, createWriteStream(join(dir, 'spaces-600mb.jsonl.gz')));
  cases.push({ id: 'spaces-600mb.jsonl.gz', loader: 'jsonl.gz:import', file: join(dir, 'spaces-600mb.jsonl.gz'), expect: 'accepted' });
  return cases;
}
