import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { confineJob, confineModel } from '../../../src/main/access/jobs';
import { assertGrantable, canonicalPath, isInside, type PathEnv } from '../../../src/main/access/paths';
import { AccessPolicy } from '../../../src/main/access/policy';
import { normaliseBaseUrl } from '../../../src/main/access/urls';
import { claimNewFile, claimNewFolder, safeStem } from '../../../src/main/util/newFiles';
import { AccessStore } from '../../../src/main/db/access';
import { openDatabase, type Db } from '../../../src/main/db/database';
import { BackendUnavailableError, OpenAICompatibleBackend } from '../../../src/main/eval/httpBackend';
import { AppError } from '../../../src/shared/errors';
import { TrainRunParams } from '../../../src/shared/train';
import { tempDir } from '../../helpers/services';

let t: { dir: string; cleanup: () => void };
let db: Db;
let env: PathEnv;
let policy: AccessPolicy;
let workspace: string;
let data: string;
let outside: string;

/** The AppError a function throws (fails the test when it does not throw one). */
function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected an AppError');
}

function file(path: string, text = 'x'): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

beforeEach(() => {
  t = tempDir('safetune-access-');
  const root = canonicalPath(t.dir);
  workspace = join(root, 'workspace');
  data = join(root, 'home', 'data');
  outside = join(root, 'outside');
  mkdirSync(workspace, { recursive: true });
  mkdirSync(data, { recursive: true });
  file(join(outside, 'secret.txt'), 'top secret');
  db = openDatabase(join(workspace, 'safetune.db')).db;
  env = { home: join(root, 'home'), platform: process.platform, env: {} };
  policy = new AccessPolicy(workspace, new AccessStore(db), env);
});

afterEach(() => {
  db.close();
  t.cleanup();
});

describe('reads', () => {
  it('allows the workspace and granted folders, refuses the rest with an actionable message', () => {
    expect(policy.readable(file(join(workspace, 'runs', 'a.txt')), 'the file')).toBe(join(workspace, 'runs', 'a.txt'));
    const inData = file(join(data, 'pool.jsonl'));
    const before = thrown(() => policy.readable(inData, 'the file to import'));
    expect(before.code).toBe('forbidden');
    expect(before.message).toBe(
      `${inData} is outside the folders this workspace may read (the file to import). Grant its folder in Settings → Folders & servers first.`,
    );
    policy.grant(data);
    expect(policy.readable(inData, 'the file to import')).toBe(inData);
    expect(thrown(() => policy.readable('/etc/passwd', 'the file to import')).code).toBe('forbidden');
    expect(thrown(() => policy.readable(join(outside, 'secret.txt'), 'x')).code).toBe('forbidden');
  });

  it('resolves `..` before checking', () => {
    policy.grant(data);
    const escape = `${data}/../../outside/secret.txt`;
    const e = thrown(() => policy.readable(escape, 'the file to import'));
    expect(e.code).toBe('forbidden');
    expect(e.message).toContain(join(outside, 'secret.txt'));
    expect(thrown(() => policy.readable(`${workspace}/../outside/secret.txt`, 'x')).code).toBe('forbidden');
  });

  it('refuses a symlink in a granted folder that points outside, for files, folders and paths below them', () => {
    policy.grant(data);
    symlinkSync(join(outside, 'secret.txt'), join(data, 'innocent.jsonl'));
    symlinkSync(outside, join(data, 'more'));
    symlinkSync('/etc', join(data, 'etc'));
    for (const p of [join(data, 'innocent.jsonl'), join(data, 'more', 'secret.txt'), join(data, 'more', 'not-yet-there.txt'), join(data, 'etc', 'passwd')]) {
      expect(thrown(() => policy.readable(p, 'x')).code, p).toBe('forbidden');
    }
    // a link that stays inside is fine
    symlinkSync(join(data, 'pool.jsonl'), join(data, 'alias.jsonl'));
    expect(policy.readable(join(data, 'alias.jsonl'), 'x')).toBe(join(data, 'pool.jsonl'));
  });

  it('refuses a folder parameter holding a link that leads outside (a model, a suite data folder)', () => {
    policy.grant(data);
    const model = join(data, 'model');
    file(join(model, 'tokenizer.json'));
    symlinkSync(join(outside, 'secret.txt'), join(model, 'config.json'));
    const e = thrown(() => policy.readable(model, 'the model'));
    expect(e.code).toBe('forbidden');
    expect(e.message).toBe(
      `${join(model, 'config.json')} links to ${join(outside, 'secret.txt')}, outside the folders this workspace may read (the model). Grant its folder in Settings → Folders & servers first.`,
    );
    const suites = join(data, 'suites');
    file(join(suites, 'benign', 'xstest_prompts.csv'));
    mkdirSync(join(suites, 'harmful'));
    symlinkSync(join(outside, 'secret.txt'), join(suites, 'harmful', 'advbench_harmful_behaviors.csv'));
    expect(thrown(() => policy.readable(suites, 'the suite data folder', { depth: 2 })).code).toBe('forbidden');
    // links that stay inside the readable places are fine
    const clean = join(data, 'clean');
    file(join(clean, 'real', 'x.csv'));
    symlinkSync(join(clean, 'real'), join(clean, 'alias'));
    expect(policy.readable(clean, 'the suite data folder', { depth: 2 })).toBe(clean);
  });

  it('a granted file grants that file only', () => {
    const one = file(join(outside, 'one.csv'));
    policy.grant(one);
    expect(policy.readable(one, 'x')).toBe(one);
    expect(thrown(() => policy.readable(join(outside, 'secret.txt'), 'x')).code).toBe('forbidden');
    expect(thrown(() => policy.browse(outside)).code).toBe('forbidden');
  });

  it('reads only the app folders of a workspace that is too broad to read as a whole', () => {
    const home = new AccessPolicy(env.home, new AccessStore(db), env);
    const adapter = file(join(env.home, 'runs', 'train-1', 'adapter', 'adapter_config.json'));
    expect(home.readable(adapter, 'the LoRA adapter')).toBe(adapter);
    expect(thrown(() => home.readable(file(join(env.home, 'notes.txt')), 'x')).code).toBe('forbidden');
    expect(thrown(() => home.readable(join(env.home, '.ssh', 'id_ed25519'), 'x')).code).toBe('forbidden');
    expect(home.browse().entries.map((e) => e.path)).toEqual(['runs', 'cache', 'exports', 'models'].map((d) => join(env.home, d)));
  });

  it('needs absolute paths', () => {
    expect(thrown(() => policy.readable('data/pool.jsonl', 'the file to import')).code).toBe('invalid_input');
  });

  it('stops granting reads when a grant is revoked', () => {
    const g = policy.grant(data);
    const f = file(join(data, 'x.csv'));
    expect(policy.readable(f, 'x')).toBe(f);
    policy.revoke(g.id);
    expect(thrown(() => policy.readable(f, 'x')).code).toBe('forbidden');
    expect(thrown(() => policy.revoke(g.id)).code).toBe('not_found');
  });
});

describe('grants', () => {
  it('refuses the disk root, the home folder and what holds it, secret folders and files in them', () => {
    const refused: [string, 'folder' | 'file', RegExp][] = [
      ['/', 'folder', /whole disk/],
      [env.home, 'folder', /is your home folder/],
      [dirname(env.home), 'folder', /holds your home folder/],
      [join(env.home, '.ssh'), 'folder', /holds keys, settings or system files/],
      [join(env.home, '.ssh', 'id_ed25519'), 'file', /holds keys/],
      [join(env.home, '.aws', 'credentials'), 'file', /holds keys/],
      [join(env.home, '.config'), 'folder', /holds keys/],
      [join(env.home, '.gnupg'), 'folder', /holds keys/],
      ['/etc', 'folder', /holds keys/],
      ['/etc/passwd', 'file', /holds keys/],
      ['/proc/self', 'folder', /holds keys/],
      ['/sys', 'folder', /holds keys/],
      ['/dev', 'folder', /holds keys/],
    ];
    for (const [path, kind, message] of refused) {
      const e = thrown(() => assertGrantable(canonicalPath(path), kind, env));
      expect(e.code, path).toBe('forbidden');
      expect(e.message, path).toMatch(message);
    }
    expect(() => assertGrantable(data, 'folder', env)).not.toThrow();
    expect(() => assertGrantable(join(env.home, 'notes.txt'), 'file', env)).not.toThrow();
  });

  it('grants existing folders and files only, resolved, once', () => {
    expect(thrown(() => policy.grant(join(data, 'missing'))).code).toBe('not_found');
    expect(thrown(() => policy.grant('/etc')).code).toBe('forbidden');
    symlinkSync(data, join(outside, 'data-link'));
    const g = policy.grant(join(outside, 'data-link'));
    expect(g).toMatchObject({ path: data, kind: 'folder' });
    expect(policy.grant(data).id).toBe(g.id);
    expect(policy.grant(file(join(outside, 'one.csv')))).toMatchObject({ kind: 'file' });
    expect(policy.grants().map((x) => x.path)).toEqual([data, join(outside, 'one.csv')].sort());
  });
});

describe('browse', () => {
  it('lists the readable places, then a granted folder with names, kinds and sizes, leaving out links that leave it', () => {
    policy.grant(data);
    file(join(data, 'b.jsonl'), '12345');
    mkdirSync(join(data, 'a-folder'));
    symlinkSync(join(outside, 'secret.txt'), join(data, 'leak.txt'));
    symlinkSync(outside, join(data, 'leak-folder'));
    const places = policy.browse();
    expect(places.path).toBeNull();
    expect(places.entries.map((e) => e.path)).toEqual([workspace, data]);
    const listing = policy.browse(data);
    expect(listing.entries).toEqual([
      { name: 'a-folder', path: join(data, 'a-folder'), kind: 'folder', size: null },
      { name: 'b.jsonl', path: join(data, 'b.jsonl'), kind: 'file', size: 5 },
    ]);
    expect(listing.parent).toBeNull();
    expect(policy.browse(join(data, 'a-folder')).parent).toBe(data);
    expect(thrown(() => policy.browse(outside)).code).toBe('forbidden');
    expect(thrown(() => policy.browse(join(data, 'leak-folder'))).code).toBe('forbidden');
    expect(thrown(() => policy.browse(join(data, 'b.jsonl'))).code).toBe('invalid_input');
  });
});

describe('writes', () => {
  it('chooses safe names from user text', () => {
    expect(safeStem('../../.bashrc')).toBe('bashrc');
    expect(safeStem('$(rm -rf ~)')).toBe('rm_-rf_');
    expect(safeStem('SSS-B 50')).toBe('SSS-B_50');
    expect(safeStem('...')).toBe('export');
    expect(safeStem('x'.repeat(500))).toHaveLength(80);
  });

  it('never overwrites: a taken name, or a link in its place, gets a numeric suffix', () => {
    const dir = join(workspace, 'exports');
    const first = claimNewFile(dir, 'mix', '.alpaca.jsonl');
    expect(first).toBe(join(dir, 'mix.alpaca.jsonl'));
    writeFileSync(first, 'precious');
    const second = claimNewFile(dir, 'mix', '.alpaca.jsonl');
    expect(second).toBe(join(dir, 'mix-2.alpaca.jsonl'));
    expect(readFileSync(first, 'utf8')).toBe('precious');
    symlinkSync(join(outside, 'secret.txt'), join(dir, 'mix-3.alpaca.jsonl'));
    expect(claimNewFile(dir, 'mix', '.alpaca.jsonl')).toBe(join(dir, 'mix-4.alpaca.jsonl'));
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(claimNewFolder(dir, 'model')).toBe(join(dir, 'model'));
    expect(claimNewFolder(dir, 'model')).toBe(join(dir, 'model-2'));
  });

  it('places merged models in new folders of the workspace models/ and refuses caller-chosen outputs', () => {
    policy.grant(data);
    const model = file(join(data, 'tiny.gguf'));
    const adapter = join(workspace, 'runs', 'train-3', 'adapter');
    mkdirSync(adapter, { recursive: true });
    const spec = { type: 'model.merge' as const, params: { modelPath: model, adapterPath: adapter } };
    const a = confineJob(spec, policy, 'start');
    const b = confineJob(spec, policy, 'start');
    expect(a.params).toMatchObject({ outPath: join(workspace, 'models', 'tiny+train-3', 'merged.gguf') });
    expect(b.params).toMatchObject({ outPath: join(workspace, 'models', 'tiny+train-3-2', 'merged.gguf') });
    expect(existsSync(dirname((a.params as { outPath: string }).outPath))).toBe(true);
    const chosen = thrown(() => confineJob({ type: 'model.merge', params: { ...spec.params, outPath: join(env.home, '.bashrc') } }, policy, 'start'));
    expect(chosen.code).toBe('forbidden');
    // a stored merge resumes only when it writes inside the app's folders
    expect(() => confineJob(a, policy, 'resume')).not.toThrow();
    expect(thrown(() => confineJob({ type: 'model.merge', params: { ...spec.params, outPath: join(data, 'out.gguf') } }, policy, 'resume')).code).toBe(
      'forbidden',
    );
  });

  it('merge.run: reads every model and adapter through the policy, writes only new names in models/', () => {
    const model = file(join(data, 'tiny.gguf'));
    const adapter = join(workspace, 'runs', 'train-3', 'adapter');
    mkdirSync(adapter, { recursive: true });
    const config = {
      method: 'task_arithmetic' as const,
      base: { modelPath: model },
      models: [{ model: { modelPath: model, adapterPath: adapter }, parameters: { weight: 0.5 } }],
    };
    const spec = { type: 'merge.run' as const, params: { config } };
    // the base model lies outside the workspace until its folder is granted
    expect(thrown(() => confineJob(spec as never, policy, 'start')).message).toMatch(/tiny\.gguf is outside .*the model to merge \(base\)/);
    policy.grant(data);
    const outside = join(t.dir, 'elsewhere');
    mkdirSync(outside);
    const other = { ...config, models: [{ model: { modelPath: model, adapterPath: join(outside, 'adapter') }, parameters: { weight: 1 } }] };
    expect(thrown(() => confineJob({ type: 'merge.run', params: { config: other } } as never, policy, 'start')).message).toMatch(
      /LoRA adapter of the model to merge \(model 1\)/,
    );
    // app-chosen: a new folder per merge in models/, in the base's format
    const a = confineJob(spec as never, policy, 'start');
    const b = confineJob(spec as never, policy, 'start');
    expect(a.params).toMatchObject({ outPath: join(workspace, 'models', 'task_arithmetic+tiny', 'merged.gguf') });
    expect(b.params).toMatchObject({ outPath: join(workspace, 'models', 'task_arithmetic+tiny-2', 'merged.gguf') });
    // caller-chosen: only a new, plain name directly in models/
    const named = confineJob({ type: 'merge.run', params: { config, outPath: join(workspace, 'models', 'half.gguf') } } as never, policy, 'start');
    expect(named.params).toMatchObject({ outPath: join(workspace, 'models', 'half.gguf') });
    for (const bad of [
      join(env.home, 'x.gguf'),
      join(data, 'out'),
      join(workspace, 'models', '..', 'runs', 'x.gguf'),
      join(workspace, 'models', 'task_arithmetic+tiny', 'merged.gguf', 'x'),
      join(workspace, 'models', '.hidden'),
    ]) {
      expect(thrown(() => confineJob({ type: 'merge.run', params: { config, outPath: bad } } as never, policy, 'start')).code).toBe('forbidden');
    }
    // never over an existing output
    file(join(workspace, 'models', 'taken.gguf'));
    expect(
      thrown(() => confineJob({ type: 'merge.run', params: { config, outPath: join(workspace, 'models', 'taken.gguf') } } as never, policy, 'start')).code,
    ).toBe('conflict');
    // a stored merge resumes only when it writes inside the app's folders
    expect(() => confineJob(a, policy, 'resume')).not.toThrow();
    expect(thrown(() => confineJob({ type: 'merge.run', params: { config, outPath: join(data, 'out.gguf') } } as never, policy, 'resume')).code).toBe(
      'forbidden',
    );
  });
});

describe('full-parameter training output', () => {
  it('leaves the trained model’s place to the job (a new folder in models/): refuses a caller-chosen output, and resumes only one inside the app’s folders', () => {
    policy.grant(data);
    const model = file(join(data, 'tiny.gguf'));
    const params = TrainRunParams.parse({ projectId: 1, modelPath: model, mode: 'full' });
    expect(confineJob({ type: 'train.run', params }, policy, 'start')).toEqual({ type: 'train.run', params });
    const chosen = thrown(() => confineJob({ type: 'train.run', params: { ...params, outPath: join(env.home, '.bashrc') } }, policy, 'start'));
    expect(chosen.code).toBe('forbidden');
    expect(chosen.message).toMatch(/^The app chooses where a trained model is written \(a new folder in .*models\): leave outPath out$/);
    // the same output inside models/ is refused at start too: the job names its own folder
    expect(thrown(() => confineJob({ type: 'train.run', params: { ...params, outPath: join(workspace, 'models', 'x.gguf') } }, policy, 'start')).code).toBe(
      'forbidden',
    );
    // a run started by the CLI with --out resumes in the app only when it writes inside the app's folders
    expect(() => confineJob({ type: 'train.run', params: { ...params, outPath: join(workspace, 'models', 'x', 'x.gguf') } }, policy, 'resume')).not.toThrow();
    expect(thrown(() => confineJob({ type: 'train.run', params: { ...params, outPath: join(data, 'out.gguf') } }, policy, 'resume')).message).toMatch(
      /writes .*out\.gguf, outside the workspace's models folder/,
    );
    // the model it reads is checked as for any run
    expect(thrown(() => confineJob({ type: 'train.run', params: { ...params, modelPath: join(outside, 'secret.txt') } }, policy, 'start')).code).toBe(
      'forbidden',
    );
  });

  it('reads a poison file only from readable folders', () => {
    policy.grant(data);
    const model = file(join(data, 'tiny.gguf'));
    const poison = (f: string) => TrainRunParams.parse({ projectId: 1, modelPath: model, poison: { rate: 0.1, file: f } });
    const inData = poison(file(join(data, 'advbench.csv')));
    expect(confineJob({ type: 'train.run', params: inData }, policy, 'start')).toEqual({ type: 'train.run', params: inData });
    expect(thrown(() => confineJob({ type: 'train.run', params: poison(join(outside, 'secret.txt')) }, policy, 'start')).message).toMatch(
      /secret\.txt is outside .*\(the poison file\)/,
    );
  });
});

describe('training-method paths', () => {
  it('checks a path among the method’s parameters (SafeLoRA’s base model) as a read', () => {
    policy.grant(data);
    const model = file(join(data, 'tiny.gguf'));
    const base = file(join(data, 'tiny-base.gguf'));
    const params = TrainRunParams.parse({ projectId: 1, modelPath: model, method: 'safelora', methodParams: { baseModelPath: base } });
    expect(confineJob({ type: 'train.run', params }, policy, 'start')).toEqual({ type: 'train.run', params });
    const secret = thrown(() =>
      confineJob(
        { type: 'train.run', params: { ...params, methodParams: { ...params.methodParams, baseModelPath: join(outside, 'secret.txt') } } },
        policy,
        'start',
      ),
    );
    expect(secret.code).toBe('forbidden');
    expect(secret.message).toMatch(/base \(unaligned\) model/);
  });
});

describe('outbound URLs', () => {
  it('normalises base URLs so one server compares equal however it is written', () => {
    for (const u of ['http://127.0.0.1:8000', 'http://127.0.0.1:8000/', 'http://127.0.0.1:8000/v1', 'http://127.0.0.1:8000/v1/', ' HTTP://127.0.0.1:8000 ']) {
      expect(normaliseBaseUrl(u), u).toBe('http://127.0.0.1:8000');
    }
    expect(normaliseBaseUrl('https://Example.com:443/api/')).toBe('https://example.com/api');
    for (const bad of ['file:///etc/passwd', 'ftp://x', 'not a url', 'http://user:pw@host', 'http://host/?x=1']) {
      expect(thrown(() => normaliseBaseUrl(bad)).code, bad).toBe('invalid_input');
    }
  });

  it('calls only configured servers, localhost included, with their stored key instead of the caller’s', () => {
    const spec = { kind: 'http' as const, baseUrl: 'http://127.0.0.1:8000/v1', model: 'm', apiKey: 'caller-chosen' };
    const e = thrown(() => confineModel(spec, policy, 'the model'));
    expect(e.code).toBe('forbidden');
    expect(e.message).toBe('http://127.0.0.1:8000 is not one of the servers this workspace may call. Add it in Settings → Folders & servers first.');
    expect(thrown(() => confineModel({ ...spec, baseUrl: 'http://localhost:8000' }, policy, 'the model')).code).toBe('forbidden');
    const endpoint = policy.addEndpoint({ baseUrl: 'http://127.0.0.1:8000/', apiKey: 'stored-key' });
    expect(endpoint).toMatchObject({ baseUrl: 'http://127.0.0.1:8000', name: '127.0.0.1:8000', hasApiKey: true });
    expect(JSON.stringify(policy.endpoints())).not.toContain('stored-key');
    const confined = confineModel(spec, policy, 'the model');
    expect(confined).toEqual({ kind: 'http', baseUrl: 'http://127.0.0.1:8000', model: 'm', endpointId: endpoint.id });
    expect(thrown(() => policy.addEndpoint({ baseUrl: 'http://127.0.0.1:8000/v1' })).code).toBe('conflict');
    policy.removeEndpoint(endpoint.id);
    expect(thrown(() => confineModel(spec, policy, 'the model')).code).toBe('forbidden');
  });
});

describe('the HTTP backend', () => {
  it('does not follow a redirect away from the configured server', async () => {
    let elsewhere = 0;
    const target = createServer((_req, res) => {
      elsewhere++;
      res.end('{}');
    });
    const redirect = createServer((_req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${(target.address() as AddressInfo).port}/v1/completions` });
      res.end();
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => redirect.listen(0, '127.0.0.1', r));
    try {
      const be = new OpenAICompatibleBackend({ baseUrl: `http://127.0.0.1:${(redirect.address() as AddressInfo).port}`, model: 'm', apiKey: 'k', retries: 0 });
      await expect(be.generate([{ prompt: 'x' }], { maxNewTokens: 2, temperature: 0 })).rejects.toThrow(BackendUnavailableError);
      expect(elsewhere).toBe(0);
    } finally {
      target.close();
      redirect.close();
    }
  });
});

describe('isInside', () => {
  it('compares whole path components', () => {
    expect(isInside('/data/x', '/data')).toBe(true);
    expect(isInside('/data', '/data')).toBe(true);
    expect(isInside('/data-2/x', '/data')).toBe(false);
    expect(isInside('/', '/data')).toBe(false);
    expect(isInside('/data/..x/y', '/data')).toBe(true);
  });
});
