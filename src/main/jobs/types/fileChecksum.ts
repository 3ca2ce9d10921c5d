import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { FileChecksumParams, type FileChecksumResult } from '../../../shared/jobs';
import { AppError } from '../../../shared/errors';
import { defineJob, type JobContext } from '../define';

interface Checkpoint {
  /** Identity of the file when hashing began: a change invalidates the checkpoint. */
  sizeBytes: number;
  mtimeMs: number;
  blockDigests: string[];
}

/**
 * Fingerprints a data file: one SHA-256 per block and a digest over the block digests. Resumable
 * block by block; later imports use it to recognise a file they have already seen.
 */
export const fileChecksumJob = defineJob<FileChecksumParams, Checkpoint, FileChecksumResult>({
  type: 'file.checksum',
  heavy: true,
  params: FileChecksumParams,
  title: (p) => `Fingerprint ${p.path.split(/[\\/]/).pop()}`,
  run: (params, ctx) => checksum(params, null, ctx),
  resume: (params, cp, ctx) => checksum(params, cp, ctx),
});

async function checksum(
  params: FileChecksumParams,
  cp: Checkpoint | null,
  ctx: JobContext<Checkpoint>,
): Promise<FileChecksumResult> {
  const { path, blockSizeBytes } = params;
  if (!isAbsolute(path)) throw new AppError('invalid_input', `path must be absolute: ${path}`);
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new AppError('not_found', `Cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!info.isFile()) throw new AppError('invalid_input', `${path} is not a regular file`);

  let digests: string[] = [];
  if (cp && cp.sizeBytes === info.size && cp.mtimeMs === info.mtimeMs) {
    digests = cp.blockDigests.slice();
    ctx.log(`resuming at block ${digests.length}`);
  } else if (cp) {
    ctx.log('file changed since the last attempt: starting over');
  }

  const blocks = Math.ceil(info.size / blockSizeBytes);
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(blockSizeBytes);
  let lastSave = Date.now();
  try {
    for (let b = digests.length; b < blocks; b++) {
      ctx.throwIfCancelled();
      const offset = b * blockSizeBytes;
      const want = Math.min(blockSizeBytes, info.size - offset);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) throw new AppError('conflict', `${path} shrank while it was being read`);
        got += bytesRead;
      }
      digests.push(createHash('sha256').update(buf.subarray(0, want)).digest('hex'));
      if (Date.now() - lastSave > 500 || b === blocks - 1) {
        ctx.saveCheckpoint({ sizeBytes: info.size, mtimeMs: info.mtimeMs, blockDigests: digests });
        lastSave = Date.now();
      }
      ctx.progress((b + 1) / blocks, `block ${b + 1} of ${blocks}`);
    }
  } finally {
    await fh.close();
  }
  const digest = createHash('sha256').update(digests.join('')).digest('hex');
  return { path, sizeBytes: info.size, blockSizeBytes, blockDigests: digests, digest, mtimeMs: info.mtimeMs };
}
