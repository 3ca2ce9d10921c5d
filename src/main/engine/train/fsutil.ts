/** Durable file writes and atomic folder replacement for checkpoints. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Write `data` to `path` and fsync it (data null: only fsync an existing file). */
export function writeFileDurable(path: string, data: string | Uint8Array | null): void {
  const fd = openSync(path, data === null ? 'r+' : 'w');
  try {
    if (data !== null) {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync a directory so renames/creations inside it survive a crash (best effort where unsupported). */
export function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some platforms (Windows) cannot open or fsync directories
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** rename + fsync of the parent folder */
export function renameDurable(from: string, to: string): void {
  renameSync(from, to);
  fsyncDir(dirname(to));
}

export function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // ignore
  }
}
