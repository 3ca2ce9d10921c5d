/**
 * A streaming CSV/TSV record splitter over bytes. RFC 4180 quoting (a doubled quote inside a quoted
 * field is one quote; quoted fields may hold delimiters and line breaks), read leniently: a quote
 * inside an unquoted field, or text right after a closing quote, is kept as text. With `quote: null`
 * (TSV) there is no quoting at all.
 *
 * Records end at a line break outside quotes: LF or CRLF, or CR alone for files that break lines
 * that way (see LineBreak). Empty lines are skipped. Memory stays at one record: a record longer
 * than `maxRecordBytes`, or with more than `maxFields` fields, is scanned to its end without being
 * kept and comes out as an error. Lines are counted from the bytes (a line break inside a quoted
 * field counts), so every record knows the line it starts on.
 */
import { type LineBreak, countByte } from './source';

const LF = 0x0a;
const CR = 0x0d;

export interface DelimitedOptions {
  delimiter: number;
  /** Quote byte, or null for none (TSV). */
  quote: number | null;
  lineBreak: LineBreak;
  /** Absolute byte offset of the first chunk's first byte. */
  start: number;
  /** Line number at `start` (1-based). */
  line: number;
  maxRecordBytes: number;
  maxFields: number;
}

interface RecordBase {
  /** Line the record starts on. */
  line: number;
  /** Offset just past the record's line break (or the end of the data). */
  end: number;
  /** Line number at `end`. */
  endLine: number;
}

export type DelimitedRecord =
  | (RecordBase & {
      kind: 'record';
      /** The record's field bytes, unquoted, back to back (valid until the next record is read). */
      bytes: Buffer;
      /** End offset of each field in `bytes`. */
      ends: number[];
    })
  | (RecordBase & { kind: 'too-long'; bytes: number })
  | (RecordBase & { kind: 'too-wide'; fields: number })
  | (RecordBase & { kind: 'unclosed-quote' });

const enum S {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: a doubled quote, or the field's end. */
  QuoteInQuoted,
  /** CR right after a closing quote (LF files): LF ends the record. */
  CrAfterQuote,
}

const indexOrEnd = (b: Buffer, byte: number, from: number) => {
  const k = b.indexOf(byte, from);
  return k < 0 ? b.length : k;
};

export async function* splitDelimited(chunks: AsyncIterable<Buffer>, o: DelimitedOptions): AsyncGenerator<DelimitedRecord> {
  const lineByte = o.lineBreak === 'cr' ? CR : LF;
  const term = lineByte;
  const { delimiter: delim, quote } = o;
  let rec = Buffer.allocUnsafe(64 * 1024);
  let len = 0;
  let ends: number[] = [];
  let fields = 1;
  let size = 0; // raw bytes of the record so far (delimiters and quotes included)
  let tooLong = false;
  let anyQuote = false;
  let fieldQuoted = false;
  let state = S.FieldStart;
  let line = o.line;
  let recLine = line;
  let base = o.start; // absolute offset of chunk[0]

  const append = (src: Buffer, from: number, to: number) => {
    const n = to - from;
    size += n;
    if (tooLong) return;
    if (size > o.maxRecordBytes) {
      tooLong = true;
      return;
    }
    if (len + n > rec.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * rec.length, len + n));
      rec.copy(grown, 0, 0, len);
      rec = grown;
    }
    src.copy(rec, len, from, to);
    len += n;
  };
  const appendByte = (b: number) => {
    size++;
    if (tooLong) return;
    if (size > o.maxRecordBytes) {
      tooLong = true;
      return;
    }
    if (len === rec.length) {
      const grown = Buffer.allocUnsafe(2 * rec.length);
      rec.copy(grown);
      rec = grown;
    }
    rec[len++] = b;
  };
  const endField = () => {
    size++;
    fields++;
    fieldQuoted = false;
    if (fields <= o.maxFields) ends.push(len);
  };
  /** The record as it stands, or null for an empty line; resets for the next one. */
  const finish = (end: number, stripCr: boolean): DelimitedRecord | null => {
    // CRLF: the CR ends an unquoted last field (a quoted one's CR is dropped by CrAfterQuote).
    if (stripCr && !fieldQuoted && !tooLong && len > (ends.at(-1) ?? 0) && rec[len - 1] === CR) len--;
    const empty = fields === 1 && len === 0 && !anyQuote && !tooLong;
    const at: RecordBase = { line: recLine, end, endLine: line };
    let out: DelimitedRecord | null;
    if (empty) out = null;
    else if (tooLong) out = { ...at, kind: 'too-long', bytes: size };
    else if (fields > o.maxFields) out = { ...at, kind: 'too-wide', fields };
    else out = { ...at, kind: 'record', bytes: rec.subarray(0, len), ends: [...ends, len] };
    len = 0;
    ends = [];
    fields = 1;
    size = 0;
    tooLong = false;
    anyQuote = false;
    fieldQuoted = false;
    state = S.FieldStart;
    recLine = line;
    return out;
  };

  for await (const chunk of chunks) {
    const n = chunk.length;
    let i = 0;
    // Next delimiter and next line break in this chunk (n: none), found once and reused.
    let nextDelim = -1;
    let nextTerm = -1;
    while (i < n) {
      if (state === S.Unquoted) {
        // Copy up to the next delimiter or line break in one go.
        if (nextDelim < i) nextDelim = indexOrEnd(chunk, delim, i);
        if (nextTerm < i) nextTerm = indexOrEnd(chunk, term, i);
        const stop = Math.min(nextDelim, nextTerm);
        if (stop > i) {
          append(chunk, i, stop);
          i = stop;
          continue;
        }
      }
      const b = chunk[i]!;
      if (state === S.Quoted) {
        // Copy up to the next quote in one go, counting the line breaks passed.
        let q = chunk.indexOf(quote!, i);
        if (q < 0) q = n;
        line += countByte(chunk, lineByte, i, q);
        append(chunk, i, q);
        i = q;
        if (q < n) {
          size++;
          state = S.QuoteInQuoted;
          i++;
        }
        continue;
      }
      if (b === lineByte) line++;
      if (state === S.QuoteInQuoted) {
        if (b === quote) {
          appendByte(b);
          state = S.Quoted;
          i++;
          continue;
        }
        if (b === CR && term === LF) {
          state = S.CrAfterQuote;
          i++;
          continue;
        }
        state = S.Unquoted; // the field's closing quote: fall through to what follows it
      } else if (state === S.CrAfterQuote) {
        if (b !== LF) {
          appendByte(CR); // a lone CR after a closing quote is text
          state = S.Unquoted;
        }
      }
      if (b === term) {
        const r = finish(base + i + 1, term === LF);
        if (r) yield r;
      } else if (b === delim) {
        endField();
        state = S.FieldStart;
      } else if (state === S.FieldStart && b === quote) {
        anyQuote = true;
        fieldQuoted = true;
        size++;
        state = S.Quoted;
      } else {
        appendByte(b);
        state = S.Unquoted;
      }
      i++;
    }
    base += n;
  }
  if (state === S.Quoted) {
    yield { line: recLine, end: base, endLine: line, kind: 'unclosed-quote' };
    return;
  }
  const r = finish(base, term === LF);
  if (r) yield r;
}
