/**
 * Streaming container readers: JSONL, JSON arrays (incremental splitter; never loads the whole
 * array), CSV/TSV (csv-parse streaming) and Parquet (hyparquet, one row group at a time).
 *
 * Every reader is an async generator of RawItem. Each item carries `next`, the ReadPosition to
 * pass back as `resume` to continue right after that item, so an import job can checkpoint and
 * resume without duplicating rows. Malformed rows come out as `{kind: 'error'}` items with the row
 * index, line and reason; a bad row never aborts the rest of the file.
 *
 * `.gz` files are decompressed on the fly; their byte offsets count decompressed bytes (resuming
 * re-reads and skips the prefix, since gzip cannot seek).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { parse as csvParse } from 'csv-parse';

export type ContainerFormat = 'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet';

export interface ReadPosition {
  /** Index of the next data row (0-based; header lines are not rows). */
  row: number;
  /** Byte offset (in the decompressed stream) where reading continues. Unused for parquet. */
  byteOffset: number;
  /** 1-based line number at byteOffset. */
  line: number;
  /** json: nesting depth of the streamed array (1: top-level array; 2: array under a key). */
  arrayDepth?: number;
  /** csv/tsv: the header, so a resumed read can name columns. */
  header?: string[];
}

export const START_POSITION: ReadPosition = { row: 0, byteOffset: 0, line: 1 };

export type RawItem =
  | { kind: 'row'; value: unknown; row: number; line: number | null; next: ReadPosition }
  | { kind: 'error'; row: number; line: number | null; reason: string; next: ReadPosition };

export interface ReadOptions {
  resume?: ReadPosition;
  /** json: when the top level is an object, stream the array under this key (default: first array). */
  arrayKey?: string;
  /** csv/tsv: quote character, or false for none (default '"' for csv, false for tsv). */
  quote?: string | false;
  /** Read size in bytes (tests use small chunks to exercise boundaries). */
  chunkSize?: number;
  signal?: AbortSignal;
}

/** Guess the container from the file name (".gz" stripped) and, for .json, the first bytes. */
export async function detectContainer(file: string): Promise<ContainerFormat> {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.tsv') || name.endsWith('.tab')) return 'tsv';
  if (name.endsWith('.parquet') || name.endsWith('.pq')) return 'parquet';
  if (name.endsWith('.json')) {
    // A ".json" file may really be JSON Lines: first line a complete object, another follows.
    const head = await readHead(file, 65536);
    const text = head.replace(/^\uFEFF/, '').trimStart();
    if (text.startsWith('{')) {
      const nl = text.indexOf('\n');
      if (nl > 0) {
        try {
          JSON.parse(text.slice(0, nl));
          if (text.slice(nl + 1).trimStart().startsWith('{')) return 'jsonl';
        } catch {
          /* not one object per line */
        }
      }
    }
    return 'json';
  }
  throw new Error(`${file}: cannot tell the file format from its name (expected .jsonl, .json, .csv, .tsv or .parquet)`);
}

async function readHead(file: string, n: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of byteStream(file, 0, 16384)) {
    chunks.push(c);
    total += c.length;
    if (total >= n) break;
  }
  return Buffer.concat(chunks).subarray(0, n).toString('utf8');
}

/** Byte chunks of a file (gunzipped when it ends in .gz) from a byte offset. */
async function* byteStream(file: string, start: number, chunkSize = 1 << 16, signal?: AbortSignal): AsyncGenerator<Buffer> {
  if (!file.toLowerCase().endsWith('.gz')) {
    const s = createReadStream(file, { start, highWaterMark: chunkSize });
    try {
      for await (const c of s) {
        signal?.throwIfAborted();
        yield c as Buffer;
      }
    } finally {
      s.destroy();
    }
    return;
  }
  const raw = createReadStream(file, { highWaterMark: chunkSize });
  const gz = raw.pipe(createGunzip({ chunkSize }));
  let skip = start;
  try {
    for await (const c0 of gz) {
      signal?.throwIfAborted();
      let c = c0 as Buffer;
      if (skip > 0) {
        if (c.length <= skip) {
          skip -= c.length;
          continue;
        }
        c = c.subarray(skip);
        skip = 0;
      }
      yield c;
    }
  } finally {
    raw.destroy();
    gz.destroy();
  }
}

export async function* readRows(file: string, format: ContainerFormat, options: ReadOptions = {}): AsyncGenerator<RawItem> {
  switch (format) {
    case 'jsonl':
      yield* readJsonl(file, options);
      return;
    case 'json':
      yield* readJsonArray(file, options);
      return;
    case 'csv':
      yield* readDelimited(file, ',', options);
      return;
    case 'tsv':
      yield* readDelimited(file, '\t', options);
      return;
    case 'parquet':
      yield* readParquet(file, options);
      return;
  }
}

const NL = 0x0a;

/** JSON Lines: one JSON value per non-blank line. */
export async function* readJsonl(file: string, options: ReadOptions = {}): AsyncGenerator<RawItem> {
  const pos = { ...(options.resume ?? START_POSITION) };
  let pending: Buffer = Buffer.alloc(0);
  let pendingStart = pos.byteOffset; // absolute offset of pending[0]
  let line = pos.line;
  let row = pos.row;
  let first = pos.byteOffset === 0;

  function* handleLine(bytes: Buffer, endAbs: number): Generator<RawItem> {
    let text = bytes.toString('utf8');
    if (first) {
      text = text.replace(/^\uFEFF/, '');
      first = false;
    }
    if (text.endsWith('\r')) text = text.slice(0, -1);
    const thisLine = line;
    line++;
    if (text.trim() === '') return;
    const next: ReadPosition = { row: row + 1, byteOffset: endAbs, line };
    try {
      const value = JSON.parse(text);
      yield { kind: 'row', value, row, line: thisLine, next };
    } catch (e) {
      yield { kind: 'error', row, line: thisLine, reason: `invalid JSON: ${(e as Error).message}`, next };
    }
    row++;
  }

  // A line longer than a chunk is kept as a list of parts and joined once (no quadratic copying).
  let parts: Buffer[] = [];
  let partsLen = 0;
  for await (const chunk of byteStream(file, pos.byteOffset, options.chunkSize, options.signal)) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, from);
      if (nl < 0) break;
      const piece = chunk.subarray(from, nl);
      const lineBytes = partsLen ? Buffer.concat([...parts, piece]) : piece;
      yield* handleLine(lineBytes, pendingStart + lineBytes.length + 1);
      pendingStart += lineBytes.length + 1;
      parts = [];
      partsLen = 0;
      from = nl + 1;
    }
    if (from < chunk.length) {
      parts.push(chunk.subarray(from));
      partsLen += chunk.length - from;
    }
  }
  pending = partsLen ? Buffer.concat(parts) : Buffer.alloc(0);
  if (pending.length) yield* handleLine(pending, pendingStart + pending.length);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * JSON array, streamed element by element: a top-level array, or the array under `arrayKey`
 * (default: the first array-valued key) of a top-level object. Works on bytes (JSON's structural
 * characters are ASCII and never occur inside UTF-8 multi-byte sequences), so memory stays at
 * one element plus one read chunk however long the array is.
 */
export async function* readJsonArray(file: string, options: ReadOptions = {}): AsyncGenerator<RawItem> {
  const resume = options.resume;
  let buf: Buffer = Buffer.alloc(0); // storage; bytes [0, len) are data
  let len = 0;
  let base = resume?.byteOffset ?? 0; // absolute offset of buf[0]
  let i = 0; // scan index into buf
  let line = resume?.line ?? 1;
  let row = resume?.row ?? 0;

  // Scanner state.
  let depth = resume ? (resume.arrayDepth ?? 1) : 0;
  let arrayDepth = resume ? (resume.arrayDepth ?? 1) : -1; // -1: not inside the streamed array yet
  let inStr = false;
  let esc = false;
  let started = !!resume;
  let done = false;
  let objectMode = false;
  let expectKey = false;
  let keyStart = -1;
  let lastKey: string | null = null;
  let awaitingValue = false;
  let elemStart = -1;
  let elemLine = 0;
  let first = !resume || resume.byteOffset === 0;

  const emit = (end: number, terminatorEnd: number): RawItem => {
    const text = buf.subarray(elemStart, end).toString('utf8').trim();
    const next: ReadPosition = { row: row + 1, byteOffset: base + terminatorEnd, line, arrayDepth };
    const thisRow = row;
    row++;
    elemStart = -1;
    try {
      return { kind: 'row', value: JSON.parse(text), row: thisRow, line: elemLine, next };
    } catch (e) {
      return { kind: 'error', row: thisRow, line: elemLine, reason: `invalid JSON element: ${(e as Error).message}`, next };
    }
  };

  for await (const chunk of byteStream(file, base, options.chunkSize, options.signal)) {
    if (done) break;
    if (len === 0) {
      buf = chunk;
      len = chunk.length;
      i = 0;
    } else {
      // Append, growing geometrically: an element longer than many chunks costs linear time.
      if (len + chunk.length > buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * buf.length, len + chunk.length));
        buf.copy(grown, 0, 0, len);
        buf = grown;
      }
      chunk.copy(buf, len);
      len += chunk.length;
    }
    if (first) {
      first = false;
      if (len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
    }
    const items: RawItem[] = [];
    for (; i < len && !done; i++) {
      const b = buf[i]!;
      if (b === NL) line++;
      if (inStr) {
        if (esc) esc = false;
        else if (b === BACKSLASH) esc = true;
        else if (b === QUOTE) {
          inStr = false;
          if (keyStart >= 0) {
            lastKey = JSON.parse(buf.subarray(keyStart, i + 1).toString('utf8')) as string;
            keyStart = -1;
          }
        }
        continue;
      }
      if (!started) {
        if (isWs(b) || b === 0xef || b === 0xbb || b === 0xbf) continue; // whitespace or a BOM split across chunks
        started = true;
        depth = 1;
        if (b === LBRACKET) arrayDepth = 1;
        else if (b === LBRACE) {
          objectMode = true;
          expectKey = true;
        } else throw new Error(`${file}: expected a JSON array or object at line ${line}`);
        continue;
      }
      if (arrayDepth > 0 && depth === arrayDepth) {
        // Directly inside the streamed array.
        if (b === COMMA) {
          if (elemStart < 0) {
            items.push({ kind: 'error', row, line, reason: 'empty array element', next: { row: row + 1, byteOffset: base + i + 1, line, arrayDepth } });
            row++;
          } else items.push(emit(i, i + 1));
          continue;
        }
        if (b === RBRACKET) {
          // Resume position stays on the "]" so a resumed read ends cleanly.
          if (elemStart >= 0) items.push(emit(i, i));
          done = true;
          continue;
        }
        if (isWs(b)) continue;
        if (elemStart < 0) {
          elemStart = i;
          elemLine = line;
        }
      }
      if (objectMode && arrayDepth < 0 && depth === 1) {
        if (b === QUOTE && expectKey) {
          keyStart = i;
          expectKey = false;
          inStr = true;
          continue;
        }
        if (b === COLON) {
          awaitingValue = true;
          continue;
        }
        if (b === COMMA) {
          expectKey = true;
          continue;
        }
        if (awaitingValue && !isWs(b)) {
          awaitingValue = false;
          if (b === LBRACKET && (options.arrayKey === undefined || options.arrayKey === lastKey)) {
            depth = 2;
            arrayDepth = 2;
            continue;
          }
        }
      }
      if (b === QUOTE) inStr = true;
      else if (b === LBRACKET || b === LBRACE) depth++;
      else if (b === RBRACKET || b === RBRACE) {
        depth--;
        if (depth === 0) {
          done = true;
          if (arrayDepth < 0) {
            throw new Error(
              options.arrayKey !== undefined
                ? `${file}: the top-level object has no array under "${options.arrayKey}"`
                : `${file}: the top-level object holds no array`,
            );
          }
        }
      }
    }
    for (const it of items) yield it;
    // Drop consumed bytes, keeping the element (or key) in progress.
    const keep = Math.min(elemStart >= 0 ? elemStart : i, keyStart >= 0 ? keyStart : i);
    if (keep > 0) {
      buf.copyWithin(0, keep, len);
      len -= keep;
      base += keep;
      i -= keep;
      if (elemStart >= 0) elemStart -= keep;
      if (keyStart >= 0) keyStart -= keep;
    }
  }
  if (!done) {
    if (!started) return; // empty file
    yield {
      kind: 'error',
      row,
      line,
      reason: 'unexpected end of file inside the JSON array (truncated file?)',
      next: { row, byteOffset: base + len, line, arrayDepth },
    };
  }
}

/** CSV/TSV with a header row, streamed through csv-parse. */
export async function* readDelimited(file: string, delimiter: ',' | '\t', options: ReadOptions = {}): AsyncGenerator<RawItem> {
  const resume = options.resume;
  let header = resume?.header;
  const quote = options.quote ?? (delimiter === ',' ? '"' : false);
  const lineBase = resume ? resume.line - 1 : 0;
  const byteBase = resume?.byteOffset ?? 0;
  let row = resume?.row ?? 0;
  const skipped: RawItem[] = [];
  let lastBytes = 0;
  let lastLines = 0;
  // csv-parse counts a CRLF inside a quoted field as two lines, so lines are counted here from the
  // bytes: newlines before a byte offset (relative to byteBase), with a forward-only cursor.
  const chunks: Buffer[] = [];
  let cur = { chunk: 0, pos: 0, abs: 0, newlines: 0 };
  const newlinesBefore = (off: number): number => {
    while (cur.abs < off && cur.chunk < chunks.length) {
      const c = chunks[cur.chunk]!;
      const end = Math.min(c.length, cur.pos + (off - cur.abs));
      for (let k = cur.pos; k < end; k++) if (c[k] === NL) cur.newlines++;
      cur.abs += end - cur.pos;
      cur.pos = end;
      if (cur.pos === c.length) {
        chunks[cur.chunk] = Buffer.alloc(0); // consumed: free it
        cur = { ...cur, chunk: cur.chunk + 1, pos: 0 };
      }
    }
    return cur.newlines;
  };

  const parser = csvParse({
    delimiter,
    quote: quote === false ? null : quote,
    bom: !resume || resume.byteOffset === 0,
    relax_column_count: true,
    relax_quotes: quote === false,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    columns: false,
    on_skip: (err: (Error & { lines?: number }) | undefined): undefined => {
      const l = err?.lines !== undefined ? err.lines + lineBase : null;
      skipped.push({ kind: 'error', row, line: l, reason: `malformed ${delimiter === ',' ? 'CSV' : 'TSV'} record: ${err?.message ?? 'unknown error'}`, next: { row: row + 1, byteOffset: byteBase + lastBytes, line: lineBase + lastLines + 1, header } });
      row++;
    },
  });
  const src = byteStream(file, byteBase, options.chunkSize, options.signal);
  // Set when the consumer stops early: the pump must not wait for a 'drain' that never comes.
  let stopped = false;
  const pump = (async () => {
    try {
      for await (const c of src) {
        if (stopped) break;
        chunks.push(c);
        if (!parser.write(c)) {
          await new Promise<void>((r) => {
            const done = () => {
              parser.off('drain', done);
              parser.off('close', done);
              r();
            };
            parser.once('drain', done);
            parser.once('close', done);
          });
        }
      }
      if (!stopped) parser.end();
    } catch (e) {
      parser.destroy(e as Error);
    }
  })();
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number; records: number } }>) {
      while (skipped.length) yield skipped.shift()!;
      const { record, info } = rec;
      lastBytes = info.bytes;
      // Line the record ends on: 1 + newlines before its last byte (its own terminator excluded).
      const endLine = 1 + newlinesBefore(Math.max(0, info.bytes - 1));
      lastLines = endLine;
      if (!header) {
        header = record.map((h) => h.trim());
        continue;
      }
      // Quoted fields may span lines: the record starts `inner` lines before it ends.
      let inner = 0;
      for (const f of record) for (let k = f.indexOf('\n'); k >= 0; k = f.indexOf('\n', k + 1)) inner++;
      const thisLine = endLine + lineBase - inner;
      const next: ReadPosition = { row: row + 1, byteOffset: byteBase + info.bytes, line: endLine + lineBase + 1, header };
      if (record.length !== header.length) {
        yield { kind: 'error', row, line: thisLine, reason: `expected ${header.length} columns, got ${record.length}`, next };
      } else {
        const value: Record<string, string> = {};
        for (let k = 0; k < header.length; k++) value[header[k]!] = record[k]!;
        yield { kind: 'row', value, row, line: thisLine, next };
      }
      row++;
    }
    while (skipped.length) yield skipped.shift()!;
  } finally {
    stopped = true;
    if (!parser.destroyed) parser.destroy();
    await pump;
  }
}

/** Parquet, one row group (or 10k-row slice) at a time; positions are row indices. */
export async function* readParquet(file: string, options: ReadOptions = {}): AsyncGenerator<RawItem> {
  if (file.toLowerCase().endsWith('.gz')) throw new Error(`${file}: compressed parquet containers are not supported; parquet compresses internally`);
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const asyncBuf = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(asyncBuf);
  let row = options.resume?.row ?? 0;
  let groupStart = 0;
  for (const rg of metadata.row_groups) {
    const groupEnd = groupStart + Number(rg.num_rows);
    for (let s = Math.max(groupStart, row); s < groupEnd; s += 10_000) {
      options.signal?.throwIfAborted();
      const e = Math.min(groupEnd, s + 10_000);
      const rows = await parquetReadObjects({ file: asyncBuf, metadata, rowStart: s, rowEnd: e });
      for (const value of rows) {
        yield { kind: 'row', value: toPlain(value), row, line: null, next: { row: row + 1, byteOffset: 0, line: 0 } };
        row++;
      }
    }
    groupStart = groupEnd;
  }
}

/** BigInt → number (when safe) or string, recursively, so rows behave like JSON values. */
function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(toPlain);
  if (v && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toPlain(x);
    return o;
  }
  return v;
}

/** Total size in bytes (for progress), or null. */
export async function fileSize(file: string): Promise<number | null> {
  try {
    const h = await open(file);
    try {
      return (await h.stat()).size;
    } finally {
      await h.close();
    }
  } catch {
    return null;
  }
}
