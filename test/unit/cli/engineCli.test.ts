import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainCommand } from '../../../src/main/cli/commands/train';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';
import { sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');

describe('safetune model info / generate', () => {
  it.skipIf(!stories)('describes stories260K', async () => {
    const r = await cli(['model', 'info', stories!, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.join('\n'))).toMatchObject({
      architecture: 'llama',
      format: 'gguf',
      parameterCount: 292_800,
      layers: 5,
      hiddenSize: 64,
      heads: 8,
      kvHeads: 4,
      vocabSize: 512,
    });
  });

  it.skipIf(!stories)('greedily continues "Once upon a time" as the reference does', async () => {
    const r = await cli(['generate', '--model', stories!, '--prompt', 'Once upon a time', '--max-tokens', '40', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out.join('\n'));
    expect(res.text.startsWith(', there was a little girl named Lily. She loved to play outside in the park.')).toBe(true);
    expect(res).toMatchObject({ completionTokens: 40, finishReason: 'length' });
  });

  it.skipIf(!stories)('fine-tunes stories260K on a project from the command line and writes a PEFT adapter', async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'task.jsonl');
      writeFileSync(
        file,
        ['cat', 'dog', 'owl', 'fox'].map((a) => JSON.stringify({ prompt: `Tell me about the ${a}.`, response: `The ${a} ran home.` })).join('\n') + '\n',
      );
      await cli(['projects', 'create', 'cli train', '--workspace', t.dir]);
      expect((await cli(['data', 'import', file, '--project', '1', '--role', 'task', '--workspace', t.dir])).code).toBe(0);
      const r = await cli([
        'train',
        '--project',
        '1',
        '--model',
        stories!,
        '--template',
        'plain',
        '--steps',
        '6',
        '--batch',
        '2',
        '--workspace',
        t.dir,
        '--json',
      ]);
      expect(r.code, r.err).toBe(0);
      const res = JSON.parse(r.out.join('\n'));
      expect(res.steps).toBe(6);
      expect(existsSync(join(res.adapterPath, 'adapter_model.safetensors'))).toBe(true);
      // merged into a new GGUF, the fine-tuned model generates on its own
      const merged = join(t.dir, 'merged.gguf');
      const m = await cli(['model', 'merge', stories!, '--adapter', res.adapterPath, '--out', merged, '--json']);
      expect(m.code, m.err).toBe(0);
      expect(JSON.parse(m.out.join('\n'))).toMatchObject({ modelPath: merged, format: 'gguf', cancelled: false });
      const g = await cli(['generate', '--model', merged, '--prompt', 'Tell me about the cat.', '--max-tokens', '8', '--json']);
      expect(g.code, g.err).toBe(0);
      expect(JSON.parse(g.out.join('\n')).completionTokens).toBeGreaterThan(0);
      const again = await cli(['model', 'merge', stories!, '--adapter', res.adapterPath, '--out', merged]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/already exists/);
      const bad = await cli(['train', '--project', '1', '--model', stories!, '--method', 'magic', '--workspace', t.dir]);
      expect(bad.err).toMatch(/--method must be one of plain, replay/);
      // a value the job's schema refuses is named by its field, and no job is queued
      const zeroRank = await cli(['train', '--project', '1', '--model', stories!, '--rank', '0', '--workspace', t.dir]);
      expect(zeroRank.code).toBe(1);
      expect(zeroRank.err).toMatch(/lora\.rank: /);
      const jobs = JSON.parse((await cli(['jobs', 'list', '--project', '1', '--workspace', t.dir, '--json'])).out.join('\n')) as { type: string }[];
      expect(jobs.filter((j) => j.type === 'train.run')).toHaveLength(1);
    } finally {
      t.cleanup();
    }
  });

  it.skipIf(!stories)('quantises stories260K to Q8_0 and the quantised file runs', async () => {
    const t = tempDir();
    try {
      const out = join(t.dir, 'stories-q8_0.gguf');
      const r = await cli(['model', 'quantize', stories!, '--type', 'q8_0', '--out', out, '--json']);
      expect(r.code, r.err).toBe(0);
      const rep = JSON.parse(r.out.join('\n'));
      expect(rep).toMatchObject({ path: out, preset: 'q8_0' });
      expect(rep.types.Q8_0).toBeGreaterThan(0);
      expect(r.err).toMatch(/quantising: \d+\/\d+ tensors/);
      const g = await cli(['generate', '--model', out, '--prompt', 'Once upon a time', '--max-tokens', '8', '--json']);
      expect(g.code, g.err).toBe(0);
      expect(JSON.parse(g.out.join('\n')).completionTokens).toBe(8);
      const again = await cli(['model', 'quantize', stories!, '--type', 'q8_0', '--out', out]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/already exists/);
      const bad = await cli(['model', 'quantize', stories!, '--type', 'q9_9', '--out', join(t.dir, 'x.gguf')]);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/unknown quantisation type "q9_9" \(choose one of .*q4_k_m/);
      const noType = await cli(['model', 'quantize', stories!, '--out', join(t.dir, 'y.gguf')]);
      expect(noType.code).toBe(1);
      expect(noType.err).toMatch(/model quantize needs --type and --out/);
    } finally {
      t.cleanup();
    }
  });

  it.skipIf(!stories)('trains the model’s own weights with --full (--trainable groups) and writes the whole model', async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'task.jsonl');
      writeFileSync(
        file,
        ['cat', 'dog', 'owl', 'fox'].map((a) => JSON.stringify({ prompt: `Tell me about the ${a}.`, response: `The ${a} ran home.` })).join('\n') + '\n',
      );
      await cli(['projects', 'create', 'cli full', '--workspace', t.dir]);
      expect((await cli(['data', 'import', file, '--project', '1', '--role', 'task', '--workspace', t.dir])).code).toBe(0);
      expect(trainCommand.usage).toMatch(/ \| --full \[--trainable A,B \(default all\)\] \[--out PATH\]\]/);
      expect(trainCommand.usage).toMatch(/--trainable groups: all, attention, mlp, embeddings, norms, lm_head, q, k, v, o, gate, up, down\n/);
      const r = await cli([
        'train',
        '--project',
        '1',
        '--model',
        stories!,
        '--template',
        'plain',
        '--full',
        '--trainable',
        'attention,mlp',
        '--steps',
        '3',
        '--batch',
        '2',
        '--workspace',
        t.dir,
        '--json',
      ]);
      expect(r.code, r.err).toBe(0);
      const res = JSON.parse(r.out.join('\n'));
      expect(res).toMatchObject({ mode: 'full', steps: 3, modelFormat: 'gguf' });
      expect(res.adapterPath).toBeUndefined();
      expect(res.modelPath).toBe(join(t.dir, 'models', 'stories260K+train-2', 'stories260K+train-2.gguf'));
      const jobs = JSON.parse((await cli(['jobs', 'list', '--project', '1', '--workspace', t.dir, '--json'])).out.join('\n')) as {
        type: string;
        params: { mode: string; full: unknown };
      }[];
      expect(jobs.find((j) => j.type === 'train.run')!.params).toMatchObject({ mode: 'full', full: { trainable: ['attention', 'mlp'] } });
      const g = await cli(['generate', '--model', res.modelPath, '--prompt', 'Tell me about the cat.', '--max-tokens', '8', '--json']);
      expect(g.code, g.err).toBe(0);
      // --out: a path of the caller's choosing, never overwritten
      const out = join(t.dir, 'mine.gguf');
      const o = await cli([
        'train',
        '--project',
        '1',
        '--model',
        stories!,
        '--template',
        'plain',
        '--full',
        '--steps',
        '1',
        '--batch',
        '2',
        '--out',
        out,
        '--workspace',
        t.dir,
      ]);
      expect(o.code, o.err).toBe(0);
      expect(o.out.join('\n')).toMatch(new RegExp(`^model: ${out.replace(/[.+]/g, '\\$&')} \\(added to the Models list\\)`));
      const again = await cli([
        'train',
        '--project',
        '1',
        '--model',
        stories!,
        '--template',
        'plain',
        '--full',
        '--steps',
        '1',
        '--out',
        out,
        '--workspace',
        t.dir,
      ]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/mine\.gguf already exists: choose a new path/);
      // settings of the other mode are refused by name
      const lora = await cli(['train', '--project', '1', '--model', stories!, '--full', '--rank', '4', '--workspace', t.dir]);
      expect(lora.err).toMatch(/--rank: LoRA settings, not used with --full/);
      const noFull = await cli(['train', '--project', '1', '--model', stories!, '--trainable', 'mlp', '--workspace', t.dir]);
      expect(noFull.err).toMatch(/--trainable: full-parameter settings: add --full/);
      const badGroup = await cli(['train', '--project', '1', '--model', stories!, '--full', '--trainable', 'wings', '--workspace', t.dir]);
      expect(badGroup.code).toBe(1);
      expect(badGroup.err).toMatch(/full\.trainable/);
    } finally {
      t.cleanup();
    }
  });

  it.skipIf(!stories)('applies a chat template file (Jinja, or the chat_template of a tokenizer_config.json) and names the file when it cannot', async () => {
    const t = tempDir();
    try {
      const args = ['generate', '--model', stories!, '--prompt', 'Lily', '--max-tokens', '8', '--json'];
      // stories260K has no chat template of its own
      const none = await cli([...args, '--chat']);
      expect(none.code).toBe(1);
      expect(none.err).toContain('the model has no chat template; pass one explicitly');

      // The rendered template is encoded as it is (no BOS added: a template writes its own), so it
      // comes to the raw prompt's tokens less the BOS the raw prompt gets.
      const raw = await cli(['generate', '--model', stories!, '--prompt', 'Once upon a time, Lily', '--max-tokens', '8', '--json']);
      expect(raw.code).toBe(0);
      const rawTokens = JSON.parse(raw.out.join('\n')).promptTokens as number;
      expect(rawTokens).toBe(7);
      const template = 'Once upon a time, {{ messages[0].content }}';
      const jinja = join(t.dir, 'story.jinja');
      writeFileSync(jinja, template);
      const viaFile = await cli([...args, '--chat-template', jinja]);
      expect(viaFile.code, viaFile.err).toBe(0);
      const got = JSON.parse(viaFile.out.join('\n'));
      expect(got.promptTokens).toBe(rawTokens - 1);
      expect(got).toMatchObject({ completionTokens: 8, finishReason: 'length' });

      // a tokenizer_config.json: its "default" template of a named list
      const config = join(t.dir, 'tokenizer_config.json');
      writeFileSync(
        config,
        JSON.stringify({
          chat_template: [
            { name: 'tool_use', template: 'x' },
            { name: 'default', template },
          ],
        }),
      );
      const viaConfig = await cli([...args, '--chat-template', config]);
      expect(viaConfig.code, viaConfig.err).toBe(0);
      expect(JSON.parse(viaConfig.out.join('\n'))).toMatchObject({ text: got.text, promptTokens: got.promptTokens });

      const missing = await cli([...args, '--chat-template', join(t.dir, 'nope.jinja')]);
      expect(missing.err).toBe(`safetune generate: --chat-template ${join(t.dir, 'nope.jinja')}: no such file`);
      const noTemplate = join(t.dir, 'plain_config.json');
      writeFileSync(noTemplate, JSON.stringify({ bos_token: '<s>' }));
      const bad = await cli([...args, '--chat-template', noTemplate]);
      expect(bad.err).toBe(
        `safetune generate: --chat-template ${noTemplate}: no "chat_template" (a template string, or a list of { name, template }) in this JSON file`,
      );
    } finally {
      t.cleanup();
    }
  });

  it('names the file and the reason for a model it cannot load', async () => {
    const r = await cli(['model', 'info', '/nonexistent/model.gguf']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/nonexistent\/model\.gguf: not found/);
    const g = await cli(['generate', '--model', '/nonexistent/dir', '--prompt', 'hi', '--max-tokens', '0']);
    expect(g.code).toBe(1);
    expect(g.err).toMatch(/--maxNewTokens|max-tokens|Too small/i);
  });
});
