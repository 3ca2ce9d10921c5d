/**
 * Streaming container readers: JSONL, JSON arrays (incremental splitter; never loads the whole
 * array), CSV/TSV (byte-level record splitter, see delimited.ts) and Parquet (hyparquet, one row
 * group at a time), plus the CSV/TSV header reader and `readTable`, which reads a whole table and
 * checks its required columns (eval suites and few-shot files use it).
 *
 * Every reader is an async generator of RawItem. Each item carries `next`, the ReadPosition to
 * pass back as `resume` to continue right after that item, so an import job can checkpoint and
 * resume without duplicating rows. Malformed rows come out as `{kind: 'error'}` items with the row
 * index, line and reason; a bad row never aborts the rest of the file. Rows are bounded (see
 * ReadLimits: 16 MB and 64 levels of nesting per row by default): a longer or deeper row is
 * rejected and skipped without ever being held in memory whole. Invalid UTF-8 rejects the row it
 * is in, naming the byte; a file that is not UTF-8 text at all (UTF-16, binary) is refused.
 *
 * Problems with the file as a whole throw DataFileError, whose message names the file. `.gz` files
 * are decompressed on the fly; their byte offsets count decompressed bytes (resuming re-reads and
 * skips the prefix, since gzip cannot seek).
 */
import { type FileHandle, stat } from 'node:fs/promises';
import { type DelimitedRecord, splitDelimited } from './delimited';
import {
  DEFAULT_LIMITS,
  DataFileError,
  type ReadLimits,
  byteStream,
  countByte,
  firstInvalidUtf8,
  formatBytes,
  hexByte,
  openRegularFile,
  readHead,
  sniffText,
} from './source';

export { DEFAULT_LIMITS, DataFileError, type ReadLimits } from './source';

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
  /** Bounds on one row (defaults: DEFAULT_LIMITS). */
  limits?: Partial<ReadLimits>;
  signal?: AbortSignal;
}

const limitsOf = (o: ReadOptions): ReadLimits => ({ ...DEFAULT_LIMITS, ...o.limits });

const tooLong = (bytes: number, limits: ReadLimits) => `row is ${formatBytes(bytes)}, over the ${formatBytes(limits.rowBytes)} limit for one row: skipped`;
const tooDeep = (limits: ReadLimits) => `nested more than ${limits.depth} levels deep (arrays/objects inside one another): skipped`;
const notUtf8 = (byte: number, where: string) => `not valid UTF-8 (${hexByte(byte)} at ${where}): save the file as UTF-8 and import it again`;

/** Guess the container from the file name (".gz" stripped) and, for .json, the first bytes. */
export async function detectContainer(file: string): Promise<ContainerFormat> {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.tsv') || name.endsWith('.tab')) return 'tsv';
  if (name.endsWith('.parquet') || name.endsWith('.pq')) return 'parquet';
  if (name.endsWith('.json')) {
    // A ".json" file may really be JSON Lines: first line a complete object, another follows.
    const text = (await readHead(file, 65536))
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .trimStart();
    if (text.startsWith('{')) {
      const nl = text.indexOf('\n');
      if (nl > 0) {
        try {
          JSON.parse(text.slice(0, nl));
          if (
            text
              .slice(nl + 1)
              .trimStart()
              .startsWith('{')
          )
            return 'jsonl';
        } catch {
          /* not one object per line */
        }
      }
    }
    return 'json';
  }
  throw new DataFileError(file, `${file}: cannot tell the file format from its name (expected .jsonl, .json, .csv, .tsv or .parquet)`);
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
const CR = 0x0d;
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

/** Length of the run of backslashes ending just before `end` (not looking before `from`). */
function backslashRunBefore(b: Buffer, end: number, from: number): number {
  let r = end;
  while (r > from && b[r - 1] === BACKSLASH) r--;
  return end - r;
}

/** Index of the quote that closes a JSON string whose unescaped content starts at `from`, or -1. */
function closingQuote(b: Buffer, from: number): number {
  for (let at = from; ; ) {
    const q = b.indexOf(QUOTE, at);
    if (q < 0 || backslashRunBefore(b, q, at) % 2 === 0) return q;
    at = q + 1;
  }
}

/**
 * True when the JSON text in `b` nests arrays/objects more than `limit` deep. A byte scan that
 * skips strings; run before JSON.parse, since deep values break the recursive code after it
 * (JSON.stringify, structured clone) with a stack overflow.
 */
export function jsonDeeperThan(b: Buffer, limit: number): boolean {
  // Fewer opening brackets than the limit cannot nest past it (the common case: no scan).
  if (countByte(b, LBRACKET, 0, b.length) + countByte(b, LBRACE, 0, b.length) <= limit) return false;
  let depth = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) {
      i = closingQuote(b, i + 1);
      if (i < 0) return false; // unterminated string: JSON.parse rejects it
    } else if (c === LBRACKET || c === LBRACE) {
      if (++depth > limit) return true;
    } else if (c === RBRACKET || c === RBRACE) depth--;
  }
  return false;
}

/**
 * One JSON row from its bytes: the value, or why not. `where(offset)` places a byte for messages;
 * `depthChecked` when the caller's own scan already bounded the nesting.
 */
function parseJsonRow(
  bytes: Buffer,
  limits: ReadLimits,
  what: string,
  where: (offset: number) => string,
  depthChecked = false,
): { value: unknown } | { reason: string } {
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) return { reason: notUtf8(bytes[bad]!, where(bad)) };
  if (!depthChecked && jsonDeeperThan(bytes, limits.depth)) return { reason: tooDeep(limits) };
  try {
    return { value: JSON.parse(bytes.toString('utf8')) };
  } catch (e) {
    return { reason: `invalid ${what}: ${(e as Error).message}` };
  }
}

function isBlank(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (!isWs(b[i]!)) return false;
  return true;
}

/** JSON Lines: one JSON value per non-blank line. */
export async function* readJsonl(file: string, options: ReadOptions = {}): AsyncGenerator<RawItem> {
  const limits = limitsOf(options);
  const { lineBreak, bom } = await sniffText(file);
  const lineByte = lineBreak === 'cr' ? CR : NL;
  const pos = options.resume ?? START_POSITION;
  let lineStart = pos.byteOffset === 0 && bom ? 3 : pos.byteOffset; // absolute offset of the current line
  let line = pos.line;
  let row = pos.row;

  /** The item for one line (null for a blank one); `bytes` is null for a line too long to keep. */
  const lineItem = (bytes: Buffer | null, length: number, end: number): RawItem | null => {
    const thisLine = line;
    line++;
    let b = bytes;
    if (b && lineBreak === 'lf' && b.length && b[b.length - 1] === CR) b = b.subarray(0, -1);
    if (b && isBlank(b)) return null;
    const next: ReadPosition = { row: row + 1, byteOffset: end, line };
    const thisRow = row++;
    const parsed = b ? parseJsonRow(b, limits, 'JSON', (k) => `column ${k + 1}`) : { reason: tooLong(length, limits) };
    return 'value' in parsed
      ? { kind: 'row', value: parsed.value, row: thisRow, line: thisLine, next }
      : { kind: 'error', row: thisRow, line: thisLine, reason: parsed.reason, next };
  };

  // A line longer than a chunk is kept as a list of parts and joined once (no quadratic copying);
  // one longer than the row limit is not kept at all, only measured.
  let parts: Buffer[] = [];
  let kept = 0;
  let length = 0;
  for await (const chunk of byteStream(file, lineStart, options.chunkSize, options.signal)) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(lineByte, from);
      const piece = chunk.subarray(from, nl < 0 ? chunk.length : nl);
      length += piece.length;
      if (length <= limits.rowBytes) {
        parts.push(piece);
        kept += piece.length;
      } else if (parts.length) {
        parts = [];
        kept = 0;
      }
      if (nl < 0) break;
      const end = lineStart + length + 1;
      const it = lineItem(length <= limits.rowBytes ? (parts.length === 1 ? parts[0]! : Buffer.concat(parts, kept)) : null, length, end);
      if (it) yield it;
      lineStart = end;
      parts = [];
      kept = 0;
      length = 0;
      from = nl + 1;
    }
  }
  if (length > 0) {
    const it = lineItem(length <= limits.rowBytes ? Buffer.concat(parts, kept) : null, length, lineStart + length);
    if (it) yield it;
  }
}

/**
 * JSON array, streamed element by element: a top-level array, or the array under `arrayKey`
 * (default: the first array-valued key) of a top-level object. Works on bytes (JSON's structural
 * characters are ASCII and never occur inside UTF-8 multi-byte sequences), so memory stays at
 * one element plus one read chunk however long the array is; an element over the row limit is
 * scanned to its end without being kept.
 */
export async function* readJsonArray(file: string, options: ReadOptions = {}): AsyncGenerator<RawItem> {
  const limits = limitsOf(options);
  const { lineBreak, bom } = await sniffText(file);
  const lineByte = lineBreak === 'cr' ? CR : NL;
  const resume = options.resume;
  let buf: Buffer = Buffer.alloc(0); // storage; bytes [0, len) are data
  let len = 0;
  let base = resume?.byteOffset ?? (bom ? 3 : 0); // absolute offset of buf[0]
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
  // The element in progress: its bytes start at elemStart (-1 once dropped for being too long).
  let inElem = false;
  let elemStart = -1;
  let elemStartAbs = 0;
  let elemLine = 0;
  let elemTooDeep = false;

  const emit = (end: number, terminatorEnd: number): RawItem => {
    const next: ReadPosition = { row: row + 1, byteOffset: base + terminatorEnd, line, arrayDepth };
    const thisRow = row++;
    const size = base + end - elemStartAbs;
    let parsed: { value: unknown } | { reason: string };
    if (elemStart < 0) parsed = { reason: tooLong(size, limits) };
    else if (elemTooDeep) parsed = { reason: tooDeep(limits) };
    else {
      const bytes = buf.subarray(elemStart, end);
      parsed = parseJsonRow(
        bytes,
        limits,
        'JSON element',
        (k) => {
          let l = elemLine;
          let col = 1;
          for (let p = 0; p < k; p++) {
            if (bytes[p] === lineByte) {
              l++;
              col = 1;
            } else col++;
          }
          return `line ${l}, column ${col}`;
        },
        true,
      );
    }
    inElem = false;
    elemStart = -1;
    elemTooDeep = false;
    return 'value' in parsed
      ? { kind: 'row', value: parsed.value, row: thisRow, line: elemLine, next }
      : { kind: 'error', row: thisRow, line: elemLine, reason: parsed.reason, next };
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
    const items: RawItem[] = [];
    const view = buf.subarray(0, len);
    for (; i < len && !done; i++) {
      const b = buf[i]!;
      if (inStr) {
        if (esc) {
          esc = false;
          if (b === lineByte) line++;
          continue;
        }
        // Jump to the string's closing quote (the next quote not escaped by a backslash run).
        const q = closingQuote(view, i);
        line += countByte(view, lineByte, i, q < 0 ? len : q);
        if (q < 0) {
          esc = backslashRunBefore(view, len, i) % 2 === 1;
          i = len - 1;
          continue;
        }
        i = q;
        inStr = false;
        if (keyStart >= 0) {
          try {
            lastKey = JSON.parse(buf.subarray(keyStart, i + 1).toString('utf8')) as string;
          } catch {
            lastKey = null;
          }
          keyStart = -1;
        }
        continue;
      }
      if (b === lineByte) line++;
      if (!started) {
        if (isWs(b)) continue;
        started = true;
        depth = 1;
        if (b === LBRACKET) arrayDepth = 1;
        else if (b === LBRACE) {
          objectMode = true;
          expectKey = true;
        } else {
          throw new DataFileError(
            file,
            `${file} is not a JSON array of rows: it starts with ${b >= 0x20 && b < 0x7f ? `"${String.fromCharCode(b)}"` : hexByte(b)} at line ${line} (expected "[", or "{" with an array inside)`,
          );
        }
        continue;
      }
      if (arrayDepth > 0 && depth === arrayDepth) {
        // Directly inside the streamed array.
        if (b === COMMA) {
          if (!inElem) {
            items.push({ kind: 'error', row, line, reason: 'empty array element', next: { row: row + 1, byteOffset: base + i + 1, line, arrayDepth } });
            row++;
          } else items.push(emit(i, i + 1));
          continue;
        }
        if (b === RBRACKET) {
          // Resume position stays on the "]" so a resumed read ends cleanly.
          if (inElem) items.push(emit(i, i));
          done = true;
          continue;
        }
        if (isWs(b)) continue;
        if (!inElem) {
          inElem = true;
          elemStart = i;
          elemStartAbs = base + i;
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
      else if (b === LBRACKET || b === LBRACE) {
        depth++;
        if (inElem && depth - arrayDepth > limits.depth) elemTooDeep = true;
      } else if (b === RBRACKET || b === RBRACE) {
        depth--;
        if (depth === 0) {
          done = true;
          if (arrayDepth < 0) {
            throw new DataFileError(
              file,
              options.arrayKey !== undefined
                ? `${file}: the top-level object has no array under "${options.arrayKey}"`
                : `${file}: the top-level object holds no array of rows`,
            );
          }
        }
      }
    }
    for (const it of items) yield it;
    // An element (or key) past the row limit is dropped; only its size is kept.
    if (inElem && elemStart >= 0 && len - elemStart > limits.rowBytes) elemStart = -1;
    if (keyStart >= 0 && len - keyStart > limits.rowBytes) {
      throw new DataFileError(file, `${file}: a key of the top-level object is longer than ${formatBytes(limits.rowBytes)}: is this a data file?`);
    }
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
    // A buffer grown for a long element is given back once that element is done.
    if (buf.length > 4 * Math.max(len, 1 << 16) && buf.length > 1 << 20) {
      const small = Buffer.allocUnsafe(Math.max(len, 1 << 16));
      buf.copy(small, 0, 0, len);
      buf = small;
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

/** Field values of a CSV/TSV record, or the first field that is not valid UTF-8 or holds a NUL byte. */
function decodeFields(bytes: Buffer, ends: number[]): { fields: string[] } | { field: number; offset: number; problem: 'utf8' | 'nul'; byte: number } {
  const bad = firstInvalidUtf8(bytes);
  const nul = bytes.indexOf(0);
  if (bad >= 0 || nul >= 0) {
    const at = bad >= 0 && (nul < 0 || bad < nul) ? bad : nul;
    let field = 0;
    while (ends[field]! <= at) field++;
    return { field, offset: at - (field ? ends[field - 1]! : 0), problem: at === bad ? 'utf8' : 'nul', byte: bytes[at]! };
  }
  const fields: string[] = [];
  let from = 0;
  for (const end of ends) {
    fields.push(bytes.toString('utf8', from, end));
    from = end;
  }
  return { fields };
}

/** The header from the first record of a CSV/TSV file, or a DataFileError saying what is wrong with it. */
function headerOf(file: string, r: DelimitedRecord, limits: ReadLimits): string[] {
  const at = `the header (line ${r.line})`;
  if (r.kind === 'too-long')
    throw new DataFileError(file, `${file}: ${at} is ${formatBytes(r.bytes)} long, over the ${formatBytes(limits.rowBytes)} limit: is this a CSV/TSV file?`);
  if (r.kind === 'too-wide') throw new DataFileError(file, `${file}: ${at} has more than ${limits.columns} columns; at most ${limits.columns} are supported`);
  if (r.kind === 'unclosed-quote') throw new DataFileError(file, `${file}: ${at} opens a quote that is never closed`);
  const d = decodeFields(r.bytes, r.ends);
  if ('fields' in d) return d.fields.map((h) => h.trim());
  const where = `${hexByte(d.byte)} in column ${d.field + 1}`;
  throw new DataFileError(
    file,
    d.problem === 'utf8'
      ? `${file}: ${at} is not valid UTF-8 (${where}): save the file as UTF-8 and import it again`
      : `${file}: ${at} holds a NUL byte (column ${d.field + 1}): is this a text file?`,
  );
}

function delimitedRecords(
  file: string,
  delimiter: ',' | '\t',
  options: ReadOptions,
  start: number,
  line: number,
  lineBreak: 'lf' | 'cr',
): AsyncGenerator<DelimitedRecord> {
  const quote = options.quote ?? (delimiter === ',' ? '"' : false);
  const limits = limitsOf(options);
  return splitDelimited(byteStream(file, start, options.chunkSize, options.signal), {
    delimiter: delimiter.charCodeAt(0),
    quote: quote === false ? null : quote.charCodeAt(0),
    lineBreak,
    start,
    line,
    maxRecordBytes: limits.rowBytes,
    maxFields: limits.columns,
  });
}

/**
 * The header row of a CSV/TSV file (names trimmed; [] for a file with no rows), read from its first
 * record only: readTable and suite detection check columns with it before streaming the rows.
 */
export async function readDelimitedHeader(file: string, delimiter: ',' | '\t', options: ReadOptions = {}): Promise<string[]> {
  const { lineBreak, bom } = await sniffText(file);
  for await (const r of delimitedRecords(file, delimiter, options, bom ? 3 : 0, 1, lineBreak)) return headerOf(file, r, limitsOf(options));
  return [];
}

/** CSV/TSV with a header row. */
export async function* readDelimited(file: string, delimiter: ',' | '\t', options: ReadOptions = {}): AsyncGenerator<RawItem> {
  const limits = limitsOf(options);
  const resume = options.resume;
  const { lineBreak, bom } = await sniffText(file);
  let header = resume?.header;
  let row = resume?.row ?? 0;
  const start = resume?.byteOffset ?? (bom ? 3 : 0);
  for await (const r of delimitedRecords(file, delimiter, options, start, resume?.line ?? 1, lineBreak)) {
    if (!header) {
      header = headerOf(file, r, limits);
      continue;
    }
    const next: ReadPosition = { row: row + 1, byteOffset: r.end, line: r.endLine, header };
    const at = { row: row++, line: r.line, next };
    if (r.kind === 'too-long') yield { kind: 'error', ...at, reason: tooLong(r.bytes, limits) };
    else if (r.kind === 'too-wide') yield { kind: 'error', ...at, reason: `expected ${header.length} columns, got more than ${limits.columns}` };
    else if (r.kind === 'unclosed-quote')
      yield { kind: 'error', ...at, reason: 'a quoted field starts on this line and is never closed (the quote runs to the end of the file)' };
    else if (r.ends.length !== header.length) yield { kind: 'error', ...at, reason: `expected ${header.length} columns, got ${r.ends.length}` };
    else {
      const d = decodeFields(r.bytes, r.ends);
      if ('fields' in d) {
        const value: Record<string, string> = {};
        for (let k = 0; k < header.length; k++) value[header[k]!] = d.fields[k]!;
        yield { kind: 'row', value, ...at };
      } else {
        const name = `field "${header[d.field]}"`;
        const reason =
          d.problem === 'utf8'
            ? `${name} is ${notUtf8(d.byte, `byte ${d.offset + 1} of the field`)}`
            : `${name} holds a NUL byte (at byte ${d.offset + 1} of the field): binary data is not imported`;
        yield { kind: 'error', ...at, reason };
      }
    }
  }
}

// ---------------------------------------------------------------- tables with required columns

/** One object row of a table, with its index and line (null for parquet). */
export interface TableRow {
  value: Record<string, unknown>;
  row: number;
  line: number | null;
}

/** A row left out of a table, and why. */
export interface RowIssue {
  file: string;
  line: number | null;
  row: number;
  reason: string;
}

export interface TableReadOptions {
  format?: ContainerFormat;
  /** Columns that must exist (CSV/TSV: in the header; JSON: in every row); an array names alternatives. */
  required: ReadonlyArray<string | readonly string[]>;
  signal?: AbortSignal;
}

/** A required column is missing from a table: names the file, the line and the column. */
export class MissingColumnError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly column: string,
    readonly detail: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${detail}`);
    this.name = 'MissingColumnError';
  }
}

const describeColumn = (req: string | readonly string[]) => (typeof req === 'string' ? `"${req}"` : req.map((r) => `"${r}"`).join(' or '));
const firstName = (req: string | readonly string[]) => (typeof req === 'string' ? req : req[0]!);

/** The first of a requirement's alternatives that `have` holds, or null. */
function pickColumn(have: (c: string) => boolean, req: string | readonly string[]): string | null {
  for (const a of typeof req === 'string' ? [req] : req) if (have(a)) return a;
  return null;
}

/**
 * All object rows of a CSV/TSV/JSONL/JSON/Parquet file. A missing required column throws
 * MissingColumnError (CSV/TSV: checked from the header, line 1, before any row is read; JSON:
 * the first row lacking the field); malformed rows and rows that are not objects go to `issues`.
 * Returns the column actually used for each requirement (the first alternative the file has).
 */
export async function readTable(file: string, issues: RowIssue[], opts: TableReadOptions): Promise<{ rows: TableRow[]; columns: string[] }> {
  const format = opts.format ?? (await detectContainer(file));
  const rows: TableRow[] = [];
  const delimited = format === 'csv' || format === 'tsv';
  const header: string[] | null = delimited ? await readDelimitedHeader(file, format === 'csv' ? ',' : '\t') : null;
  let chosen: string[] | null = null;
  if (header) {
    chosen = opts.required.map((req) => {
      const c = pickColumn((x) => header.includes(x), req);
      if (!c) throw new MissingColumnError(file, 1, firstName(req), `missing column ${describeColumn(req)} in the header (columns: ${header.join(', ')})`);
      return c;
    });
  }
  for await (const it of readRows(file, format, { signal: opts.signal })) {
    if (it.kind === 'error') {
      issues.push({ file, line: it.line, row: it.row, reason: it.reason });
      continue;
    }
    const v = it.value;
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      issues.push({ file, line: it.line, row: it.row, reason: `expected an object, got ${Array.isArray(v) ? 'an array' : typeof v}` });
      continue;
    }
    const obj = v as Record<string, unknown>;
    if (!header) {
      // JSON / JSONL / Parquet: every row must have the required fields.
      const cols = opts.required.map((req) => {
        const c = pickColumn((x) => x in obj, req);
        if (!c)
          throw new MissingColumnError(
            file,
            it.line,
            firstName(req),
            `row ${it.row + 1}: missing field ${describeColumn(req)} (fields: ${Object.keys(obj).join(', ')})`,
          );
        return c;
      });
      chosen ??= cols;
    }
    rows.push({ value: obj, row: it.row, line: it.line });
  }
  return { rows, columns: chosen ?? opts.required.map(firstName) };
}

// ---------------------------------------------------------------- parquet

/** A string column value that is not valid UTF-8 (hyparquet would otherwise replace its bytes silently). */
class InvalidUtf8 {
  constructor(readonly bytes: Uint8Array) {}
}

const utf8 = new TextDecoder('utf-8');
const parquetParsers = {
  stringFromBytes: (bytes: Uint8Array | undefined) =>
    bytes === undefined ? undefined : firstInvalidUtf8(bytes) < 0 ? utf8.decode(bytes) : new InvalidUtf8(bytes),
};

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * hyparquet's view of the file: slices read through one open handle (so a file deleted mid-read is
 * still read to the end), checked against the file's size, each read's failure handled even when
 * hyparquet gives up on it, and all reads settled before the handle closes.
 */
function fileBuffer(fh: FileHandle, size: number) {
  const pending = new Set<Promise<ArrayBuffer>>();
  const read = async (start: number, end: number): Promise<ArrayBuffer> => {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end <= size)) {
      throw new Error(`it points at bytes ${start}–${end}, outside the file's ${size} bytes (truncated or corrupt)`);
    }
    const buf = Buffer.alloc(end - start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) throw new Error(`the file got shorter while it was being read`);
      got += bytesRead;
    }
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  };
  return {
    asyncBuffer: {
      byteLength: size,
      slice(start: number, end?: number): Promise<ArrayBuffer> {
        const p = read(start, end ?? size);
        pending.add(p);
        p.catch(() => {}).finally(() => pending.delete(p));
        return p;
      },
    },
    settle: () => Promise.allSettled([...pending]),
  };
}

/** BigInt → number (when safe) or string, recursively, so rows behave like JSON values. */
function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(toPlain);
  if (v && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array) && !(v instanceof InvalidUtf8)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toPlain(x);
    return o;
  }
  return v;
}

/** Why a parquet row cannot be imported (invalid UTF-8, too deep, too long), or null. Iterative. */
function parquetRowProblem(value: unknown, limits: ReadLimits): string | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 0, path: '' }];
  let bytes = 0;
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (v instanceof InvalidUtf8) {
      const k = firstInvalidUtf8(v.bytes);
      return `field "${path}" is ${notUtf8(v.bytes[k]!, `byte ${k + 1} of the value`)}`;
    }
    if (typeof v === 'string') bytes += v.length;
    else if (v instanceof Uint8Array) bytes += v.length;
    else if (v && typeof v === 'object' && !(v instanceof Date)) {
      if (depth >= limits.depth) return tooDeep(limits);
      for (const [k, x] of Object.entries(v)) stack.push({ v: x, depth: depth + 1, path: path ? `${path}.${k}` : k });
    }
    if (bytes > limits.rowBytes) return tooLong(bytes, limits);
  }
  return null;
}

/**
 * Parquet, one row group (or 10k-row slice) at a time; positions are row indices. An unreadable
 * footer refuses the file; an unreadable row group is one error item and reading goes on with the
 * next group.
 */
export async function* readParquet(file: string, options: ReadOptions = {}): AsyncGenerator<RawItem> {
  if (file.toLowerCase().endsWith('.gz'))
    throw new DataFileError(file, `${file}: compressed parquet containers are not supported; parquet compresses internally`);
  const limits = limitsOf(options);
  const { parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const { fh, size } = await openRegularFile(file);
  const { asyncBuffer, settle } = fileBuffer(fh, size);
  try {
    if (size < 12) throw new DataFileError(file, `${file} is not a valid Parquet file: ${size === 0 ? 'it is empty' : `it has only ${size} bytes`}`);
    let metadata;
    try {
      metadata = await parquetMetadataAsync(asyncBuffer, { parsers: parquetParsers });
      if (!Array.isArray(metadata.row_groups)) throw new Error('no row groups');
    } catch (e) {
      throw new DataFileError(file, `${file} is not a valid Parquet file: its footer cannot be read (${errorText(e)}). Is the file truncated or corrupt?`);
    }
    let row = options.resume?.row ?? 0;
    let groupStart = 0;
    const groups = metadata.row_groups.length;
    for (let g = 0; g < groups; g++) {
      const claimed = Number(metadata.row_groups[g]!.num_rows);
      const groupEnd = groupStart + (Number.isSafeInteger(claimed) && claimed > 0 ? claimed : 0);
      let failure: string | null = null;
      for (let s = Math.max(groupStart, row); s < groupEnd && failure === null; s += 10_000) {
        options.signal?.throwIfAborted();
        const e = Math.min(groupEnd, s + 10_000);
        let rows: Record<string, unknown>[];
        try {
          rows = await parquetReadObjects({ file: asyncBuffer, metadata, rowStart: s, rowEnd: e, parsers: parquetParsers });
        } catch (err) {
          failure = errorText(err);
          break;
        }
        if (rows.length !== e - s) failure = `the file claims ${claimed} rows in this group but holds fewer`;
        else {
          for (const value of rows) {
            const next = { row: row + 1, byteOffset: 0, line: 0 };
            const problem = parquetRowProblem(value, limits);
            if (problem) yield { kind: 'error', row, line: null, reason: problem, next };
            else yield { kind: 'row', value: toPlain(value), row, line: null, next };
            row++;
          }
        }
      }
      // The rest of an unreadable group is lost: one error for it, then on with the next group.
      if (failure !== null && row < groupEnd) {
        const reason = `rows ${row + 1}–${groupEnd} (row group ${g + 1} of ${groups}) cannot be read, the file is corrupt there (${failure}): skipped`;
        yield { kind: 'error', row, line: null, reason, next: { row: groupEnd, byteOffset: 0, line: 0 } };
        row = groupEnd;
      }
      groupStart = groupEnd;
    }
  } finally {
    await settle();
    await fh.close();
  }
}

/** Total size in bytes (for progress), or null. */
export async function fileSize(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch {
    return null;
  }
}
