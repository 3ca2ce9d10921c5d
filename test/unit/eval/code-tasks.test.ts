import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SandboxUnavailableError, runPythonTests } from '../../../src/main/eval/codeSandbox';
import { codeOfReply, codeTaskProgram, parseCodeReference, scoreCodeTask } from '../../../src/main/eval/codeTasks';
import { detectSuiteFormat, loadHumanEval } from '../../../src/main/eval/suites';
import { TaskJudge } from '../../../src/main/eval/judges';
import type { JudgeInput } from '../../../src/main/eval/types';
import { sharedPath } from '../../helpers/shared';

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'pass']);
    return true;
  } catch {
    return false;
  }
})();

const ref = {
  prompt: 'import math\n\ndef area(r: float) -> float:\n    """Area of a circle of radius r."""\n',
  test: 'def check(candidate):\n    assert abs(candidate(3) - 9 * math.pi) < 1e-9\n',
  entryPoint: 'area',
};
const reference = JSON.stringify(ref);

describe('code task programs', () => {
  it('continue the prompt with a body, or replace it with a whole function (keeping its imports)', () => {
    expect(codeTaskProgram(ref, '    return math.pi * r * r')).toContain('"""Area of a circle of radius r."""\n    return math.pi * r * r');
    const whole = codeTaskProgram(ref, 'Here you go:\n```python\ndef area(r):\n    return math.pi * r ** 2\n```\nDone.');
    expect(whole.startsWith('import math\n\ndef area(r):')).toBe(true);
    expect(whole).not.toContain('Area of a circle');
    expect(whole.trimEnd().endsWith('check(area)')).toBe(true);
    expect(codeOfReply('```\nx = 1\n```')).toBe('x = 1');
    expect(codeOfReply('```python\nx = 1')).toBe('x = 1'); // cut off before the closing fence
  });
});

describe('the HumanEval suite format', () => {
  it('reads tasks into items whose reference is the code task, skipping broken rows with their line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'humaneval-'));
    const f = join(dir, 'he.jsonl');
    const row = (id: string, entry: string, test = ref.test) =>
      JSON.stringify({ task_id: id, prompt: ref.prompt, test, entry_point: entry, canonical_solution: '' });
    writeFileSync(f, [row('T/0', 'area'), row('T/1', 'not a name'), row('T/2', 'area', 'assert True')].join('\n'));
    expect((await detectSuiteFormat(f))?.format).toBe('humaneval');
    const suite = await loadHumanEval(f);
    expect(suite.scorer).toEqual({ kind: 'python-tests' });
    expect(suite.items.map((i) => i.id)).toEqual(['T/0']);
    expect(parseCodeReference(suite.items[0]!.reference!)).toEqual(ref);
    expect(suite.items[0]!.prompt).toContain('def area(r: float) -> float:');
    expect(suite.issues.map((i) => [i.line, i.reason])).toEqual([
      [2, 'entry_point "not a name" is not a Python name: skipped'],
      [3, 'test defines no check(candidate): skipped'],
    ]);
  });

  const file = sharedPath('data', 'task', 'humaneval.jsonl.gz');
  it.skipIf(!file)('loads the 164 HumanEval tasks', async () => {
    const suite = await loadHumanEval(file!);
    expect(suite.items).toHaveLength(164);
    expect(suite.issues).toEqual([]);
  });
});

describe.skipIf(!hasPython)('code tests in the sandbox (needs python3)', () => {
  it('passes a right answer and fails a wrong one with the error', async () => {
    expect((await scoreCodeTask('    return math.pi * r * r', reference)).correct).toBe(true);
    const wrong = await scoreCodeTask('    return 2 * math.pi * r', reference);
    expect(wrong.correct).toBe(false);
    expect(wrong.reason).toMatch(/AssertionError/);
    expect((await scoreCodeTask('    return undefined_name', reference)).reason).toMatch(/NameError/);
  });

  it('stops an endless loop at the time limit', async () => {
    const t0 = Date.now();
    const out = await runPythonTests('while True:\n    pass\n', { timeoutMs: 1500 });
    expect(out.status).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(6000);
  });

  it('blocks the network, new processes and deleting files, and starts in an empty folder', async () => {
    const net = await runPythonTests('import socket\nsocket.create_connection(("127.0.0.1", 9))\n');
    expect(net).toMatchObject({ status: 'failed' });
    expect((net as { reason: string }).reason).toMatch(/disabled/);
    expect(await runPythonTests('import subprocess\nsubprocess.run(["true"])\n')).toMatchObject({ status: 'failed' });
    expect(await runPythonTests('import os\nos.remove("/tmp/x")\n')).toMatchObject({ status: 'failed' });
    expect(await runPythonTests('import os\nassert os.listdir(".") == ["program.py"], os.listdir(".")\nassert "HOME" not in os.environ\n')).toMatchObject({
      status: 'passed',
    });
  });

  it('stops a memory blow-up at the address-space limit', async () => {
    const out = await runPythonTests('x = bytearray(2 * 1024 ** 3)\n', { memoryBytes: 512 * 1024 ** 2 });
    expect(out).toMatchObject({ status: 'failed' });
    expect((out as { reason: string }).reason).toMatch(/MemoryError/);
  });

  it('is a task scorer: the task judge labels replies by their tests', async () => {
    const item = {
      id: '1',
      prompt: ref.prompt,
      expected: 'comply' as const,
      categories: [],
      sourceCategories: [],
      reference,
      source: { file: 'x', line: 1 },
      meta: {},
    };
    const inputs: JudgeInput[] = ['    return math.pi * r * r', '    return r', '', '    while True: pass'].map((response) => ({
      item,
      suiteKind: 'task',
      response,
      scorer: { kind: 'python-tests', timeoutMs: 6000 },
    }));
    const v = await new TaskJudge().judge(inputs);
    expect(v.map((x) => x.label)).toEqual(['correct', 'incorrect', 'empty', 'incorrect']);
    expect(v[3]!.reason).toMatch(/did not finish within 6 s/);
    expect(v[0]!.judgeVersion).toContain('python-tests');
  });

  it('says when there is no Python to run', async () => {
    await expect(runPythonTests('pass', { python: '/nonexistent/python3' })).rejects.toBeInstanceOf(SandboxUnavailableError);
  });

  const humaneval = sharedPath('data', 'task', 'humaneval.jsonl.gz');
  it.skipIf(!humaneval)(
    'passes HumanEval canonical solutions and fails an empty body',
    async () => {
      const rows = gunzipSync(readFileSync(humaneval!))
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .slice(0, 4)
        .map((l) => JSON.parse(l) as { prompt: string; test: string; entry_point: string; canonical_solution: string });
      for (const r of rows) {
        const reference = JSON.stringify({ prompt: r.prompt, test: r.test, entryPoint: r.entry_point });
        const ok = await scoreCodeTask(r.canonical_solution, reference);
        expect(ok.correct, `${r.entry_point}: ${ok.reason}`).toBe(true);
        expect((await scoreCodeTask('    pass\n', reference)).correct).toBe(false);
      }
    },
    60_000,
  );
});
