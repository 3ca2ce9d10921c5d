import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { AppError } from '../../shared/errors';

export interface FileFingerprint {
  sizeBytes: number;
  mtimeMs: number;
  blockSizeBytes: number;
  blockDigests: string[];
  /** SHA-256 over the concatenated block digests. */
  digest: string;
}

export interface FingerprintHooks {
  /** Block digests already computed for this same file (size and mtime unchanged): continue after them. */
  resume?: { sizeBytes: number; mtimeMs: number; blockDigests: string[] } | null;
  /** Called after each block with everything computed so far. */
  onBlock?(done: number, total: number, state: { sizeBytes: number; mtimeMs: number; blockDigests: string[] }): void;
  /** Throws to stop (e.g. a job's throwIfCancelled). */
  check?(): void;
}

/** Block-wise SHA-256 fingerprint of a file: resumable, never reads the whole file into memory. */
export async function fingerprintFile(path: string, blockSizeBytes: number, hooks: FingerprintHooks = {}): Promise<FileFingerprint> {
  if (!isAbsolute(path)) throw new AppError('invalid_input', `path must be absolute: ${path}`);
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new AppError('not_found', `Cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!info.isFile()) throw new AppError('invalid_input', `${path} is not a regular file`);
  const r = hooks.resume;
  const digests = r && r.sizeBytes === info.size && r.mtimeMs === info.mtimeMs ? r.blockDigests.slice() : [];
  const blocks = Math.ceil(info.size / blockSizeBytes);
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(Math.min(blockSizeBytes, Math.max(1, info.size)));
  try {
    for (let b = digests.length; b < blocks; b++) {
      hooks.check?.();
      const offset = b * blockSizeBytes;
      const want = Math.min(blockSizeBytes, info.size - offset);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) throw new AppError('conflict', `${path} shrank while it was being read`);
        got += bytesRead;
      }
      digests.push(createHash('sha256').update(buf.subarray(0, want)).digest('hex'));
      hooks.onBlock?.(b + 1, blocks, { sizeBytes: info.size, mtimeMs: info.mtimeMs, blockDigests: digests });
    }
  } finally {
    await fh.close();
  }
  return {
    sizeBytes: info.size,
    mtimeMs: info.mtimeMs,
    blockSizeBytes,
    blockDigests: digests,
    digest: createHash('sha256').update(digests.join('')).digest('hex'),
  };
}
