/**
 * File import: container detection → record-format detection (or an explicit mapping) →
 * normalised records and rejected rows, streamed, with a checkpoint after every item.
 *
 * Job wiring: store `item.checkpoint` (JSON) periodically; after a restart call openImport with
 * `resume: checkpoint` and the stream continues with the next row, never repeating one.
 */
import { basename } from 'node:path';
import { type ColumnMapping, type DetectionResult, type NormalisedRecord, detectFormat, normaliseRow } from './formats';
import { type ContainerFormat, DataFileError, type ReadPosition, detectContainer, readRows } from './readers';

export interface ImportCheckpoint {
  container: ContainerFormat;
  mapping: ColumnMapping;
  position: ReadPosition;
  /** Counts so far (informational). */
  accepted: number;
  rejected: number;
}

export interface RejectedRow {
  file: string;
  row: number;
  line: number | null;
  reason: string;
  /** "pool.jsonl:17: field \"output\": expected string, got number" */
  message: string;
}

export type ImportItem =
  | { kind: 'record'; record: NormalisedRecord; checkpoint: ImportCheckpoint }
  | { kind: 'rejected'; rejected: RejectedRow; checkpoint: ImportCheckpoint };

export interface ImportOptions {
  container?: ContainerFormat;
  /** Explicit mapping; skips detection. */
  mapping?: ColumnMapping;
  /** Continue a previous import (its container and mapping win). */
  resume?: ImportCheckpoint;
  /** Rows read for detection (default 50). */
  sampleSize?: number;
  /** Refuse to import when detection fits fewer sample rows than this (default 0.6). */
  minConfidence?: number;
  arrayKey?: string;
  signal?: AbortSignal;
}

export interface OpenedImport {
  file: string;
  container: ContainerFormat;
  mapping: ColumnMapping;
  /** null when the mapping was given or came from the checkpoint. */
  detection: DetectionResult | null;
  items: AsyncGenerator<ImportItem>;
}

/** normaliseRow, with anything it throws on a strange value turned into that row's rejection. */
function normaliseSafely(value: unknown, mapping: ColumnMapping): ReturnType<typeof normaliseRow> {
  try {
    return normaliseRow(value, mapping);
  } catch (e) {
    return { ok: false, reason: `could not be read: ${(e as Error).message}` };
  }
}

export function formatRejection(file: string, row: number, line: number | null, reason: string): string {
  return `${basename(file)}:${line ?? `row ${row + 1}`}: ${reason}`;
}

/** Read the first rows of a file (for detection and previews), with the first few rows that could not be read. */
export async function sampleRows(file: string, container: ContainerFormat, n: number, arrayKey?: string): Promise<{ rows: unknown[]; errors: string[] }> {
  const rows: unknown[] = [];
  const errors: string[] = [];
  const gen = readRows(file, container, arrayKey !== undefined ? { arrayKey } : {});
  try {
    for await (const it of gen) {
      if (it.kind === 'row') rows.push(it.value);
      else if (errors.length < 3) errors.push(formatRejection(file, it.row, it.line, it.reason));
      if (rows.length >= n || it.row >= n * 4) break;
    }
  } finally {
    await gen.return(undefined);
  }
  return { rows, errors };
}

/** Why detection found nothing to look at: an empty file, or rows that could not be read. */
function noRowsMessage(file: string, errors: readonly string[]): string {
  if (!errors.length) return `${basename(file)} has no rows to import (it is empty, or holds only a header or blank lines)`;
  return `${basename(file)}: none of its first rows could be read, so its record format cannot be told: ${errors.join('; ')}`;
}

export async function openImport(file: string, options: ImportOptions = {}): Promise<OpenedImport> {
  const container = options.resume?.container ?? options.container ?? (await detectContainer(file));
  let mapping = options.resume?.mapping ?? options.mapping;
  let detection: DetectionResult | null = null;
  if (!mapping) {
    const sample = await sampleRows(file, container, options.sampleSize ?? 50, options.arrayKey);
    if (sample.rows.length === 0) throw new DataFileError(file, noRowsMessage(file, sample.errors));
    detection = detectFormat(sample.rows);
    const min = options.minConfidence ?? 0.6;
    if (!detection.mapping || detection.confidence < min) {
      throw new DataFileError(file, `${basename(file)}: cannot tell the record format (${detection.reason}); give a column mapping`);
    }
    mapping = detection.mapping;
  }
  const m = mapping;
  let accepted = options.resume?.accepted ?? 0;
  let rejected = options.resume?.rejected ?? 0;
  async function* items(): AsyncGenerator<ImportItem> {
    const readOpts = {
      ...(options.resume ? { resume: options.resume.position } : {}),
      ...(options.arrayKey !== undefined ? { arrayKey: options.arrayKey } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    for await (const it of readRows(file, container, readOpts)) {
      let reason: string;
      if (it.kind === 'row') {
        const r = normaliseSafely(it.value, m);
        if (r.ok) {
          accepted++;
          yield {
            kind: 'record',
            record: { ...r.record, sourceFile: file, sourceRow: it.row, sourceLine: it.line },
            checkpoint: { container, mapping: m, position: it.next, accepted, rejected },
          };
          continue;
        }
        reason = r.reason;
      } else reason = it.reason;
      rejected++;
      yield {
        kind: 'rejected',
        rejected: { file, row: it.row, line: it.line, reason, message: formatRejection(file, it.row, it.line, reason) },
        checkpoint: { container, mapping: m, position: it.next, accepted, rejected },
      };
    }
  }
  return { file, container, mapping: m, detection, items: items() };
}
