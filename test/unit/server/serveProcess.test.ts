import { chmodSync, existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createServices } from '../../../src/main/app/services';
import { JobStore } from '../../../src/main/db/jobs';
import { AccessStore } from '../../../src/main/db/access';
import { readTrainMetrics, trainRunDir } from '../../../src/main/jobs/types/trainRun';
import { mulberry32 } from '../../../src/main/util/prng';
import { TrainRunParams } from '../../../src/shared/train';
import { cli } from '../../helpers/cli';
import { tempDir, workerScript } from '../../helpers/services';
import { sharedPath } from '../../helpers/shared';
import { freePort, startServe, until, type ServeChild } from './serveProcess';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function workspace(): string {
  const t = tempDir('safetune-serve-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe.skipIf(process.platform === 'win32')('safetune serve: launch file and remembered port', () => {
  let again: ServeChild | null = null;
  cleanups.push(() => again?.stop('SIGKILL'));

  it('hands the browser opener only a private launch file, removed at shutdown, and remembers --port', async () => {
    const ws = workspace();
    const port = await freePort();
    // A stand-in browser: records the arguments it was given.
    const argvFile = join(ws, 'opener-argv.txt');
    const opener = join(ws, 'opener.sh');
    writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argvFile}'\n`);
    chmodSync(opener, 0o755);

    const first = await startServe(['--workspace', ws, '--port', String(port)], { CI: undefined, BROWSER: opener });
    cleanups.push(() => first.stop('SIGKILL'));
    expect(first.port).toBe(port);
    await until(() => existsSync(argvFile) && readFileSync(argvFile, 'utf8').endsWith('\n'), 20_000, 'the opener to run');
    const argv = readFileSync(argvFile, 'utf8').trimEnd().split('\n');
    expect(argv).toHaveLength(1);
    const launch = argv[0]!;
    expect(launch).not.toContain(first.token);
    expect(launch).toMatch(/\.html$/);
    expect(statSync(launch).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(launch)).mode & 0o777).toBe(0o700);
    expect(readFileSync(launch, 'utf8')).toContain(`http://127.0.0.1:${port}/#token=${first.token}`);

    expect(await first.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(existsSync(dirname(launch))).toBe(false);
    expect(existsSync(join(ws, 'runner.lock'))).toBe(false);

    // The next start on this workspace, without --port, listens on the same port with a new token.
    again = await startServe(['--workspace', ws, '--no-open']);
    expect(again.port).toBe(port);
    expect(again.token).not.toBe(first.token);
    expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    again = null;
  });
});

describe('safetune serve: ports', () => {
  it('accepts only decimal ports from 1024 to 65535 (or 0), with exit code 2 otherwise', async () => {
    const ws = workspace();
    for (const bad of ['0x50', '80', '1023', '65536', '-1', '1e4', '8080.0', ' 8080', 'abc', '']) {
      const r = await cli(['serve', `--port=${bad}`, '--workspace', ws, '--no-open']);
      expect(r.code, `--port "${bad}"`).toBe(2);
      expect(r.err).toContain(`--port must be a decimal port number from 1024 to 65535 (or 0 for any free port), got "${bad}"`);
    }
    const missing = await cli(['serve', '--workspace', ws, '--port']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--port <value>' argument missing/);
    const saved = process.env.SAFETUNE_PORT;
    process.env.SAFETUNE_PORT = '0x1F90';
    try {
      const r = await cli(['serve', '--workspace', ws, '--no-open']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/SAFETUNE_PORT must be a decimal port number/);
    } finally {
      if (saved === undefined) delete process.env.SAFETUNE_PORT;
      else process.env.SAFETUNE_PORT = saved;
    }
    expect(existsSync(join(ws, 'runner.lock'))).toBe(false);
  });

  it('says clearly when the port is taken, and releases the workspace', async () => {
    const ws = workspace();
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => taken.close(r)));
    const port = (taken.address() as { port: number }).port;
    const r = await cli(['serve', '--port', String(port), '--workspace', ws, '--no-open']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `safetune serve: Port ${port} on 127.0.0.1 is already in use (another program, or another workbench). ` +
        'Choose another with --port N, or --port 0 for any free port.',
    );
    expect(existsSync(join(ws, 'runner.lock'))).toBe(false);
  });
});

/** Raw bytes to the server; resolves with the status line it answered (or 'closed' when it only closed). */
function send(port: number, bytes: Buffer | string, waitMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got === '' ? 'closed' : got.split('\r\n')[0]!);
    };
    const timer = setTimeout(done, waitMs);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done();
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.write(bytes, () => {});
  });
}

describe('safetune serve: malformed input', () => {
  it('answers 4xx to malformed requests and survives a random-bytes fuzz, then still answers a call', async () => {
    const server = await startServe(['--workspace', workspace(), '--no-open', '--port', '0']);
    cleanups.push(() => server.stop('SIGKILL'));
    const { port, token } = server;
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const upgrade = `${host}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`;
    const bearer = `Authorization: Bearer ${token}\r\n`;
    const cases: [string, string, RegExp][] = [
      ['upgrade to an unparseable URL', `GET //[ HTTP/1.1\r\n${upgrade}\r\n`, /^HTTP\/1\.1 401/],
      ['upgrade to an unparseable URL with the token', `GET //[ HTTP/1.1\r\n${upgrade}${bearer}\r\n`, /^HTTP\/1\.1 404/],
      ['upgrade with a malformed cookie', `GET /api/events HTTP/1.1\r\n${upgrade}Cookie: safetune_token_${port}=%E0%A4%A\r\n\r\n`, /^HTTP\/1\.1 401/],
      [
        'upgrade with a malformed cookie and the token',
        `GET /api/events HTTP/1.1\r\n${upgrade}Cookie: a=%E0%A4%A\r\nSec-WebSocket-Protocol: safetune.v1, safetune.token.${token}\r\n\r\n`,
        /^HTTP\/1\.1 101/,
      ],
      [
        'upgrade with the token and a bad key',
        `GET /api/events HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n${bearer}\r\n`,
        /^HTTP\/1\.1 400/,
      ],
      ['upgrade without Host', `GET /api/events HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`, /^HTTP\/1\.1 (400|403)/],
      ['upgrade in absolute form', `GET http://127.0.0.1:${port}/api/events HTTP/1.1\r\n${upgrade}${bearer}\r\n`, /^HTTP\/1\.1 400/],
      ['static path with malformed percent-encoding', `GET /%E0%A4%A HTTP/1.1\r\n${host}\r\n`, /^HTTP\/1\.1 400/],
      ['static path with a NUL byte', `GET /index.html%00.js HTTP/1.1\r\n${host}\r\n`, /^HTTP\/1\.1 400/],
      [
        'call name with malformed percent-encoding',
        `POST /api/call/%E0%A4%A HTTP/1.1\r\n${host}${bearer}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
        /^HTTP\/1\.1 400/,
      ],
      ['request target in absolute form', `GET http://evil.example/ HTTP/1.1\r\n${host}\r\n`, /^HTTP\/1\.1 400/],
      ['asterisk target', `OPTIONS * HTTP/1.1\r\n${host}\r\n`, /^HTTP\/1\.1 400/],
      ['unknown method', `BREW /pot HTTP/1.1\r\n${host}\r\n`, /^HTTP\/1\.1 400/],
      ['DELETE on the shell', `DELETE / HTTP/1.1\r\n${host}\r\n`, /^HTTP\/1\.1 400/],
      ['CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${host}\r\n`, /^(HTTP\/1\.1 4\d\d|closed)/],
      [
        'negative Content-Length',
        `POST /api/call/projects.list HTTP/1.1\r\n${host}${bearer}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n`,
        /^HTTP\/1\.1 400/,
      ],
      ['non-numeric Content-Length', `POST /api/call/projects.list HTTP/1.1\r\n${host}${bearer}Content-Length: abc\r\n\r\n`, /^HTTP\/1\.1 400/],
      ['two Content-Lengths', `POST /api/call/projects.list HTTP/1.1\r\n${host}${bearer}Content-Length: 1\r\nContent-Length: 2\r\n\r\n{}`, /^HTTP\/1\.1 400/],
      [
        'Content-Length and chunked',
        `POST /api/call/projects.list HTTP/1.1\r\n${host}${bearer}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`,
        /^HTTP\/1\.1 400/,
      ],
      [
        'bad chunk size',
        `POST /api/call/projects.list HTTP/1.1\r\n${host}${bearer}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
        /^HTTP\/1\.1 400/,
      ],
      ['huge header', `GET / HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(100_000)}\r\n\r\n`, /^(HTTP\/1\.1 431|closed)/],
      ['ten thousand headers', `GET / HTTP/1.1\r\n${host}${'X-A: b\r\n'.repeat(10_000)}\r\n`, /^(HTTP\/1\.1 431|closed)/],
      ['NUL in a header', `GET / HTTP/1.1\r\n${host}X-A: a\0b\r\n\r\n`, /^HTTP\/1\.1 400/],
      [
        'bare bearer',
        `POST /api/call/projects.list HTTP/1.1\r\n${host}Authorization: Bearer\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
        /^HTTP\/1\.1 401/,
      ],
      [
        'bytes above 0x7f in the bearer',
        Buffer.concat([
          Buffer.from(`POST /api/call/projects.list HTTP/1.1\r\n${host}Authorization: Bearer `),
          Buffer.from([0xff, 0xfe, 0x80]),
          Buffer.from('\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'),
        ]).toString('latin1'),
        /^HTTP\/1\.1 401/,
      ],
      ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', /^(HTTP\/1\.1 400|closed)/],
      ['HTTP/0.9 request', 'GET /\r\n\r\n', /^(HTTP\/1\.1 4\d\d|closed)/],
      ['not HTTP at all', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', /^(HTTP\/1\.1 400|closed)/],
    ];
    for (const [what, bytes, expected] of cases) {
      const status = await send(port, Buffer.from(bytes, 'latin1'));
      expect(status, what).toMatch(expected);
      expect(server.child.exitCode, `the server died on: ${what}\n${server.stderr()}`).toBeNull();
    }

    // Seeded fuzz: random bytes, and valid requests (plain, call, upgrade) with random bytes flipped,
    // inserted or cut, 16 connections at a time for about three seconds.
    const rand = mulberry32(20240607);
    const templates = [
      `GET / HTTP/1.1\r\n${host}\r\n`,
      `POST /api/call/projects.list HTTP/1.1\r\n${host}${bearer}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      `GET /api/events HTTP/1.1\r\n${upgrade}Cookie: safetune_token_${port}=%E0%A4\r\nSec-WebSocket-Protocol: safetune.v1, safetune.token.${token}\r\n\r\n`,
    ].map((t) => Buffer.from(t, 'latin1'));
    const fuzzCase = (): Buffer => {
      if (rand() < 0.25) return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 600) }, () => Math.floor(rand() * 256)));
      const b = Buffer.from(templates[Math.floor(rand() * templates.length)]!);
      const edits = 1 + Math.floor(rand() * 6);
      let out = b;
      for (let i = 0; i < edits; i++) {
        const at = Math.floor(rand() * out.length);
        const kind = rand();
        const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)));
        if (kind < 0.4) out[at] = Math.floor(rand() * 256);
        else if (kind < 0.8) out = Buffer.concat([out.subarray(0, at), bytes, out.subarray(at)]);
        else out = Buffer.concat([out.subarray(0, at), out.subarray(at + bytes.length)]);
      }
      return out;
    };
    const statuses = new Map<string, number>();
    const end = Date.now() + 3000;
    let sent = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (Date.now() < end) {
          const status = (await send(port, fuzzCase(), 300)).split(' ')[1] ?? 'closed';
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          sent++;
        }
      }),
    );
    expect(sent).toBeGreaterThan(100);
    expect(
      [...statuses.keys()].filter((s) => /^5/.test(s)),
      JSON.stringify([...statuses]),
    ).toEqual([]);
    expect(server.child.exitCode, server.stderr()).toBeNull();

    const ok = await server.call('projects.list');
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    expect(server.stderr()).toBe('');
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

const stories = sharedPath('models', 'stories260K.gguf');

describe.skipIf(!stories)('safetune serve: stopping while a training job runs', () => {
  it('interrupts the job cleanly on SIGINT (exit 0, lock released), three times over, and the job resumes from its checkpoints', async () => {
    const ws = workspace();
    // A project with task data and a queued 60-step LoRA run on stories260K; serve starts it.
    const setup = createServices({ workspace: ws, mode: 'cli', workerScript });
    const projectId = setup.projects.create('shutdown').id;
    const taskFile = join(ws, 'task.jsonl');
    const rows = ['cat', 'dog', 'bird', 'fish'].map((a) => ({ prompt: `Tell me about the ${a}.`, response: `The ${a} played in the sun all day.` }));
    writeFileSync(taskFile, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const imported = setup.jobs.enqueue('data.import', { projectId, path: taskFile, role: 'task' }, projectId);
    expect((await setup.jobs.waitFor(imported.id)).state).toBe('succeeded');
    const params = TrainRunParams.parse({ projectId, modelPath: stories, template: 'plain', maxSteps: 60, batchSize: 4, checkpointEvery: 5 });
    const jobId = new JobStore(setup.db).insert({ projectId, type: 'train.run', title: 'shutdown test', params }).id;
    // resuming through the contract re-checks the model path against the workspace's grants
    new AccessStore(setup.db).addGrant(realpathSync(dirname(stories!)), 'folder');
    await setup.close();
    const runDir = trainRunDir(ws, jobId);

    // Stopping lands at a different point of a training step each time (inside an onnxruntime run or not).
    for (let cycle = 0; cycle < 3; cycle++) {
      const server = await startServe(['--workspace', ws, '--no-open']);
      cleanups.push(() => server.stop('SIGKILL'));
      if (cycle > 0) expect((await server.call('jobs.resume', { id: jobId })).status).toBe(200);
      const before = readTrainMetrics(runDir).length;
      await until(() => readTrainMetrics(runDir).length >= before + 2, 120_000, 'two more training steps');
      expect((await server.call('jobs.get', { id: jobId })).body.value.state).toBe('running');

      expect(await server.stop('SIGINT'), server.stderr()).toEqual({ code: 0, signal: null });
      expect(server.stderr()).not.toMatch(/terminate called|Napi::Error/);
      expect(existsSync(join(ws, 'runner.lock'))).toBe(false);
      const check = createServices({ workspace: ws, mode: 'cli', workerScript, runJobs: false });
      expect(check.jobs.get(jobId).state).toBe('interrupted');
      await check.close();
    }
    expect(readTrainMetrics(runDir).length).toBeLessThan(60);

    const after = createServices({ workspace: ws, mode: 'cli', workerScript });
    cleanups.push(() => after.close());
    after.jobs.resume(jobId);
    const done = await after.jobs.waitFor(jobId, 300_000);
    expect(done.state).toBe('succeeded');
    const resumes = after.jobs.events(jobId, 1000).filter((e) => /^resuming from .* \(step [1-9]\d*\)$/.test(e.message));
    expect(resumes).toHaveLength(3);
    expect(readTrainMetrics(runDir).map((m) => m.step)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });
});
