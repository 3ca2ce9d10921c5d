import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];
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
    const r = await cli(['checksum', file, '--workspace', t.dir, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.join('\n'))).toMatchObject({ sizeBytes: 16, blockDigests: [expect.stringMatching(/^[0-9a-f]{64}$/)] });
    const jobs = await cli(['jobs', 'list', '--workspace', t.dir, '--json']);
    expect(JSON.parse(jobs.out.join('\n'))).toEqual([expect.objectContaining({ type: 'file.checksum', state: 'succeeded' })]);
  });

  it('explains unknown commands and bad flags', async () => {
    expect((await cli(['fly'])).err).toMatch(/unknown command "fly"/);
    const bad = await cli(['projects', 'list', '--colour']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/Unknown option '--colour'/);
  });
});
