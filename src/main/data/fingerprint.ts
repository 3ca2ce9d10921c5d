import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { AppError } from '../../shared/errors';

export interface FileFingerprint {
  sizeBytes: number;
  mtimeMs: number;
  blockSizeBytes: number;
  /** SHA-256 of the whole file: the same hex digest `sha256sum` prints. */
  sha256: string;
  blockDigests: string[];
  /** SHA-256 over the concatenated block digests (hex): depends on the block size, not a file hash. */
  blocksDigest: string;
}

export interface FingerprintHooks {
  /** Block digests already computed for this same file (size and mtime unchanged): continue after them. */
  resume?: { sizeBytes: number; mtimeMs: number; blockDigests: string[] } | null;
  /** Called after each block with everything computed so far. */
  onBlock?(done: number, total: number, state: { sizeBytes: number; mtimeMs: number; blockDigests: string[] }): void;
  /** Throws to stop (e.g. a job's throwIfCancelled). */
  check?(): void;
}

/**
 * Block-wise SHA-256 fingerprint of a file, plus the SHA-256 of the whole file computed in the same
 * streamed pass; never reads the whole file into memory. Resuming skips hashing the blocks already
 * digested, but their bytes are read again for the whole-file hash (a hash's state cannot be saved).
 */
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
  const whole = createHash('sha256');
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(Math.min(blockSizeBytes, Math.max(1, info.size)));
  try {
    for (let b = 0; b < blocks; b++) {
      hooks.check?.();
      const offset = b * blockSizeBytes;
      const block = await readBlock(fh, buf, Math.min(blockSizeBytes, info.size - offset), offset, path);
      whole.update(block);
      if (b < digests.length) continue; // digested before the resume: only the whole-file hash needs it
      digests.push(createHash('sha256').update(block).digest('hex'));
      hooks.onBlock?.(b + 1, blocks, { sizeBytes: info.size, mtimeMs: info.mtimeMs, blockDigests: digests });
    }
  } finally {
    await fh.close();
  }
  return {
    sizeBytes: info.size,
    mtimeMs: info.mtimeMs,
    blockSizeBytes,
    sha256: whole.digest('hex'),
    blockDigests: digests,
    blocksDigest: createHash('sha256').update(digests.join('')).digest('hex'),
  };
}

/** Reads `want` bytes at `offset` into `buf` (a view of it is returned); a file that shrank is an error. */
async function readBlock(fh: FileHandle, buf: Buffer, want: number, offset: number, path: string): Promise<Buffer> {
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
    if (bytesRead === 0) throw new AppError('conflict', `${path} shrank while it was being read`);
    got += bytesRead;
  }
  return buf.subarray(0, want);
}
