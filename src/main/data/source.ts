/**
 * The bytes under the data readers: opening a data file safely, reading it in bounded chunks
 * (gunzipped for `.gz`), the limits every reader enforces, the file-level error type, and the
 * encoding checks (UTF-16/32 and binary files refused with a clear message, invalid UTF-8 located).
 *
 * Only regular files are read (a folder, FIFO, device or socket is refused before anything blocks
 * on it), and only up to the size the file had when it was opened: a file that keeps growing, or an
 * endless one, is read to that size and no further. A file deleted mid-read is still read to the
 * end through its open handle.
 */
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { createGunzip } from 'node:zlib';

const MB = 1024 * 1024;

/** Bounds on what one row may cost, so one hostile row never takes the import down. */
export interface ReadLimits {
  /** Longest row in bytes: a JSONL line, a JSON array element, a CSV/TSV record (default 16 MB). */
  rowBytes: number;
  /** Deepest nesting of arrays and objects inside one row (default 64). */
  depth: number;
  /** Most columns a CSV/TSV header may have (default 10,000). */
  columns: number;
}

export const DEFAULT_LIMITS: Readonly<ReadLimits> = { rowBytes: 16 * MB, depth: 64, columns: 10_000 };

/** A problem with the file as a whole (not one row): the message names the file and says what to do. */
export class DataFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'DataFileError';
  }
}

/** "16 MB", "600.0 MB", "1.0 GB", "12 KB": sizes in messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 * MB) return `${(n / (1024 * MB)).toFixed(1)} GB`;
  if (n >= MB) return `${n % MB === 0 ? n / MB : (n / MB).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

const isGz = (file: string) => file.toLowerCase().endsWith('.gz');

function openError(file: string, e: NodeJS.ErrnoException): DataFileError {
  const code = e.code ? ` (${e.code})` : '';
  if (e.code === 'ENOENT') return new DataFileError(file, `${file} does not exist${code}`);
  if (e.code === 'EACCES' || e.code === 'EPERM') return new DataFileError(file, `${file} cannot be read: permission denied${code}`);
  if (e.code === 'EISDIR') return new DataFileError(file, `${file} is a folder, not a data file${code}`);
  return new DataFileError(file, `${file} cannot be opened: ${e.message}`);
}

/**
 * Opens a regular file for reading and returns its handle and current size. Opens non-blocking, so
 * a FIFO without a writer cannot hang the open; anything but a regular file is then refused.
 */
export async function openRegularFile(file: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw openError(file, e as NodeJS.ErrnoException);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new DataFileError(file, `${file} is a folder, not a data file`);
    if (!st.isFile()) throw new DataFileError(file, `${file} is not a regular file (a pipe, device or socket): copy the data into a file and import that`);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e instanceof DataFileError ? e : openError(file, e as NodeJS.ErrnoException);
  }
}

/** Raw bytes of an open file from `start` up to `end` (exclusive), in chunks. */
async function* fileChunks(file: string, fh: FileHandle, start: number, end: number, chunkSize: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  if (start >= end) return;
  const stream = fh.createReadStream({ start, end: end - 1, highWaterMark: chunkSize, autoClose: false });
  let pos = start;
  try {
    for await (const c of stream) {
      signal?.throwIfAborted();
      pos += (c as Buffer).length;
      yield c as Buffer;
    }
  } catch (e) {
    if (e instanceof DataFileError || (e as Error).name === 'AbortError') throw e;
    throw new DataFileError(file, `${file} could not be read at byte ${pos}: ${(e as Error).message}`);
  } finally {
    stream.destroy();
  }
  if (pos < end) throw shrank(file, end, pos);
}

const shrank = (file: string, had: number, now: number) =>
  new DataFileError(file, `${file} got shorter while it was being read (it had ${had} bytes, now ${now}): import it again once nothing is writing to it`);

/** Turns a zlib error into a message about the file. */
function gzipError(file: string, e: NodeJS.ErrnoException): DataFileError {
  if (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message)) {
    return new DataFileError(file, `${file} is a truncated gzip file (the compressed data ends early): copy or download it again`);
  }
  return new DataFileError(file, `${file} is not a valid gzip file (corrupt compressed data: ${e.message}): copy or download it again`);
}

/** Decompressed chunks of an open .gz file, from decompressed offset `start`. */
async function* gunzipChunks(file: string, fh: FileHandle, size: number, start: number, chunkSize: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const magic = Buffer.alloc(2);
  const { bytesRead } = size > 0 ? await fh.read(magic, 0, 2, 0) : { bytesRead: 0 };
  if (size === 0) throw new DataFileError(file, `${file} is empty: it holds no gzip data`);
  if (bytesRead < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) {
    throw new DataFileError(file, `${file} is not gzip-compressed although its name ends in .gz: rename it without .gz, or compress it with gzip`);
  }
  const raw = fh.createReadStream({ start: 0, end: size - 1, highWaterMark: chunkSize, autoClose: false });
  const gz = createGunzip({ chunkSize });
  raw.on('error', (e) => gz.destroy(e));
  raw.pipe(gz);
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
  } catch (e) {
    if (e instanceof DataFileError || (e as Error).name === 'AbortError') throw e;
    if ((e as NodeJS.ErrnoException).code?.startsWith('Z_') || /unexpected end of file/i.test((e as Error).message))
      throw gzipError(file, e as NodeJS.ErrnoException);
    throw new DataFileError(file, `${file} could not be read: ${(e as Error).message}`);
  } finally {
    raw.destroy();
    gz.destroy();
  }
}

/**
 * Byte chunks of a data file from a byte offset, gunzipped when the name ends in .gz (the offset then
 * counts decompressed bytes: the prefix is decompressed and skipped, since gzip cannot seek). Reads
 * no further than the file's size when it was opened. Every error is a DataFileError naming the file.
 */
export async function* byteStream(file: string, start: number, chunkSize = 1 << 18, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const { fh, size } = await openRegularFile(file);
  try {
    if (isGz(file)) yield* gunzipChunks(file, fh, size, start, chunkSize, signal);
    else yield* fileChunks(file, fh, start, size, chunkSize, signal);
  } finally {
    await fh.close();
  }
}

/** The first `n` bytes of a data file (decompressed for .gz). */
export async function readHead(file: string, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of byteStream(file, 0, Math.min(n, 1 << 16))) {
    chunks.push(c);
    total += c.length;
    if (total >= n) break;
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** How a text file breaks lines: LF (with or without CR before it), or CR alone (classic Mac OS). */
export type LineBreak = 'lf' | 'cr';

const SNIFF_BYTES = 64 * 1024;

export interface TextShape {
  lineBreak: LineBreak;
  /** The file starts with a UTF-8 byte-order mark (3 bytes to skip). */
  bom: boolean;
}

/**
 * Checks that a text data file is UTF-8 (refusing UTF-16, UTF-32 and binary files with a message
 * saying what to do) and finds how it breaks lines, from its first 64 KB.
 */
export async function sniffText(file: string): Promise<TextShape> {
  const head = await readHead(file, SNIFF_BYTES);
  const h = head;
  if (h.length >= 4 && ((h[0] === 0xff && h[1] === 0xfe && h[2] === 0 && h[3] === 0) || (h[0] === 0 && h[1] === 0 && h[2] === 0xfe && h[3] === 0xff))) {
    throw new DataFileError(file, `${file} is UTF-32 text: save it as UTF-8 and import it again`);
  }
  if (h.length >= 2 && ((h[0] === 0xff && h[1] === 0xfe) || (h[0] === 0xfe && h[1] === 0xff))) {
    throw new DataFileError(file, `${file} is UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8 and import it again`);
  }
  // Without a byte-order mark, UTF-16 shows as NUL bytes at every other position.
  let nulEven = 0;
  let nulOdd = 0;
  for (let i = 0; i < h.length; i++) if (h[i] === 0) i % 2 ? nulOdd++ : nulEven++;
  const half = h.length / 2;
  if (h.length >= 4 && nulOdd > 0.3 * half !== nulEven > 0.3 * half) {
    throw new DataFileError(file, `${file} looks like UTF-16 text (every other byte is NUL): save it as UTF-8 and import it again`);
  }
  if (nulEven + nulOdd > 0.1 * h.length) {
    throw new DataFileError(
      file,
      `${file} is not a text file (${Math.round((100 * (nulEven + nulOdd)) / h.length)}% of its first bytes are NUL): is it the right file?`,
    );
  }
  const bom = h.length >= 3 && h[0] === 0xef && h[1] === 0xbb && h[2] === 0xbf;
  // CR alone breaks the lines when it outnumbers LF (a CSV field may still hold an LF).
  let lf = 0;
  let loneCr = 0;
  for (let i = h.indexOf(0x0a); i >= 0; i = h.indexOf(0x0a, i + 1)) lf++;
  for (let i = h.indexOf(0x0d); i >= 0; i = h.indexOf(0x0d, i + 1)) if (h[i + 1] !== 0x0a) loneCr++;
  return { lineBreak: loneCr > lf ? 'cr' : 'lf', bom };
}

/**
 * Index of the first byte of the first invalid UTF-8 sequence in b[from, to), or -1 when it is all
 * valid (overlong forms, surrogates and code points past U+10FFFF are invalid, as in TextDecoder).
 */
export function firstInvalidUtf8(b: Uint8Array, from = 0, to = b.length): number {
  if (isUtf8(from === 0 && to === b.length ? b : b.subarray(from, to))) return -1;
  let i = from;
  while (i < to) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= to) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

/** Occurrences of `byte` in b[from, to). */
export function countByte(b: Buffer, byte: number, from: number, to: number): number {
  const part = from === 0 && to === b.length ? b : b.subarray(from, to);
  let n = 0;
  for (let k = part.indexOf(byte); k >= 0; k = part.indexOf(byte, k + 1)) n++;
  return n;
}

/** "byte 0xC3" */
export const hexByte = (b: number) => `byte 0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
