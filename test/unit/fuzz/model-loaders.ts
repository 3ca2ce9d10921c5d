/**
 * Loaders for the model-file fuzz test: each runs one real load path of the engine on a file (or a
 * model folder) the way the app does, and throws whatever the app would show the user.
 *   gguf          readGguf + every tensor read (dequantised; tensors over 64 MB are left unread)
 *   gguf-model    loadGgufModel (config + SentencePiece tokenizer) + an encode/decode + modelInfo + the train estimate
 *   safetensors   SafetensorsFile + every float tensor read (up to 64 MB each)
 *   hf-model      loadHfModel on a folder (config.json, safetensors, tokenizer.json) + an encode + modelInfo
 *   hf-estimate   the Train tab's memory estimate on a folder (reads config.json only)
 *   hf-tokenizer  HfTokenizer.fromFolder (tokenizer.json + tokenizer_config.json) + an encode/decode
 */
import { readGguf, readTensorF32 } from '../../../src/main/engine/gguf/reader';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { HfTokenizer } from '../../../src/main/engine/hf/tokenizer';
import { loadGgufModel } from '../../../src/main/engine/gguf/model';
import { modelInfo } from '../../../src/main/engine/info';
import type { LoadedModel } from '../../../src/main/engine/model/loaded';
import { trainingMemory } from '../../../src/main/jobs/tasks';

const MAX_READ = 64 * 2 ** 20;
const TEXT = 'Once upon a time, there was a little girl named Lily. Hello world!';

async function estimate(modelPath: string): Promise<void> {
  await trainingMemory({ modelPath, batchSize: 1, maxLength: 64, rank: 4, targetModules: ['q', 'v'] });
}

async function exercise(m: LoadedModel): Promise<void> {
  m.tokenizer.decode(m.tokenizer.encode(TEXT));
  await modelInfo(m);
}

export default {
  gguf(file: string) {
    const g = readGguf(file);
    for (const t of g.tensors) if (t.byteLength <= MAX_READ) readTensorF32(g, t);
  },
  async 'gguf-model'(file: string) {
    await exercise(loadGgufModel(file));
    await estimate(file);
  },
  safetensors(file: string) {
    const f = new SafetensorsFile(file);
    for (const t of f.tensors.values()) if (t.end - t.begin <= MAX_READ && ['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) f.readF32(t.name);
  },
  async 'hf-model'(dir: string) {
    await exercise(loadHfModel(dir));
  },
  'hf-estimate': (dir: string) => estimate(dir),
  'hf-tokenizer'(dir: string) {
    const t = HfTokenizer.fromFolder(dir);
    t.decode(t.encode(TEXT));
  },
};
