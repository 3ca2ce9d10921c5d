import { FileChecksumParams, type FileChecksumResult } from '../../../shared/jobs';
import { fingerprintFile } from '../../data/fingerprint';
import { defineJob, type JobContext } from '../define';

interface Checkpoint {
  /** Identity of the file when hashing began: a change invalidates the checkpoint. */
  sizeBytes: number;
  mtimeMs: number;
  blockDigests: string[];
}

/**
 * Fingerprints a file: the SHA-256 of the whole file (streamed), one SHA-256 per block and a digest
 * over the block digests. Resumable block by block; imports use the block digest to recognise a file
 * they have already seen.
 */
export const fileChecksumJob = defineJob<FileChecksumParams, Checkpoint, FileChecksumResult>({
  type: 'file.checksum',
  heavy: true,
  /** hashing streams the file block by block: the heap holds one digest per block */
  heapMb: 512,
  params: FileChecksumParams,
  title: (p) => `Fingerprint ${p.path.split(/[\\/]/).pop()}`,
  run: (params, ctx) => checksum(params, null, ctx),
  resume: (params, cp, ctx) => checksum(params, cp, ctx),
});

async function checksum(params: FileChecksumParams, cp: Checkpoint | null, ctx: JobContext<Checkpoint>): Promise<FileChecksumResult> {
  if (cp) ctx.log(`resuming after block ${cp.blockDigests.length} (if the file is unchanged)`);
  let lastSave = 0;
  const fp = await fingerprintFile(params.path, params.blockSizeBytes, {
    resume: cp,
    check: ctx.throwIfCancelled,
    onBlock(done, total, state) {
      if (Date.now() - lastSave > 500 || done === total) {
        ctx.saveCheckpoint(state);
        lastSave = Date.now();
      }
      ctx.progress(done / total, `block ${done} of ${total}`);
    },
  });
  return {
    path: params.path,
    sizeBytes: fp.sizeBytes,
    blockSizeBytes: fp.blockSizeBytes,
    sha256: fp.sha256,
    blockDigests: fp.blockDigests,
    blocksDigest: fp.blocksDigest,
    mtimeMs: fp.mtimeMs,
  };
}
