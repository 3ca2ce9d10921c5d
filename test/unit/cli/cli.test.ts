import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];

/** coreutils' own line for FILE, or null where sha256sum is not installed. */
const sha256sum = (() => {
  try {
    execFileSync('sha256sum', ['--version']);
  } catch {
    return null;
  }
  return (file: string) => execFileSync('sha256sum', [file], { encoding: 'utf8' }).trimEnd();
})();
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('safetune CLI', () => {
  it('creates and lists projects in a workspace', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    expect((await cli(['projects', 'create', 'From', 'CLI', '--workspace', t.dir])).code).toBe(0);
    const list = await cli(['projects', 'list', '--workspace', t.dir, '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out.join('\n'))).toEqual([expect.objectContaining({ id: 1, name: 'From CLI' })]);
    const dup = await cli(['projects', 'create', 'from cli', '--workspace', t.dir]);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/already exists/);
  });

  it('runs a checksum job and lists it', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'tiny.jsonl');
    writeFileSync(file, '{"prompt":"hi"}\n');
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    const r = await cli(['checksum', file, '--workspace', t.dir, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.join('\n'))).toMatchObject({
      sizeBytes: 16,
      sha256,
      blockDigests: [sha256],
      blocksDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const plain = await cli(['checksum', file, '--workspace', t.dir]);
    expect(plain.out).toEqual([`${sha256}  ${file}`]);
    if (sha256sum) expect(plain.out[0]).toBe(sha256sum(file));
    const jobs = await cli(['jobs', 'list', '--workspace', t.dir, '--json']);
    expect(JSON.parse(jobs.out.join('\n'))).toEqual([
      expect.objectContaining({ type: 'file.checksum', state: 'succeeded' }),
      expect.objectContaining({ type: 'file.checksum', state: 'succeeded' }),
    ]);
  });

  it("prints a multi-block file's SHA-256 in sha256sum's format, escaping names as it does", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'big.bin');
    writeFileSync(file, Buffer.from(Array.from({ length: 5_000_000 }, (_, i) => (i * 31) % 256)));
    const r = await cli(['checksum', file, '--workspace', t.dir]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([`${createHash('sha256').update(readFileSync(file)).digest('hex')}  ${file}`]);
    if (sha256sum) expect(r.out[0]).toBe(sha256sum(file));
    const odd = join(t.dir, 'a\\b\nc');
    writeFileSync(odd, 'x');
    const escaped = await cli(['checksum', odd, '--workspace', t.dir]);
    if (sha256sum) expect(escaped.out[0]).toBe(sha256sum(odd));
    expect(escaped.out[0]).toBe(`\\${createHash('sha256').update('x').digest('hex')}  ${join(t.dir, 'a\\\\b\\nc')}`);
  });

  it('explains unknown commands and bad flags', async () => {
    expect((await cli(['fly'])).err).toMatch(/unknown command "fly"/);
    const bad = await cli(['projects', 'list', '--colour']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/Unknown option '--colour'/);
  });
});
