import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLayers, formatViolations, type Violation } from '../../../scripts/layers/check';
import { layerRules } from '../../../scripts/layers/rules';
import { repoRoot } from '../../helpers/shared';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A source tree in a temporary folder: path → file text. */
function tree(files: Record<string, string>): string {
  const t = tempDir('safetune-layers-');
  cleanups.push(t.cleanup);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(t.dir, path)), { recursive: true });
    writeFileSync(join(t.dir, path), text);
  }
  return t.dir;
}

const brief = (v: Violation[]) => v.map((x) => `${x.file}:${x.line} ${x.rule} ${x.target}`);

describe('layers (scripts/layers/rules.ts)', () => {
  it('hold in this code base', () => {
    // on failure the message lists every violation as file:line [rule] what and why
    expect(formatViolations(checkLayers(repoRoot, layerRules))).toBe('');
  });

  it('reports a deliberately wrong import with its file, line, rule and why', () => {
    const root = tree({
      'src/main/db/database.ts': 'export type Db = { name: string };\n',
      'src/main/embed/cache.ts':
        "import { createHash } from 'node:crypto';\nimport type { Db } from '../db/database';\nexport const f = (db: Db) => db.name;\n",
    });
    const v = checkLayers(root, layerRules);
    expect(brief(v)).toEqual(['src/main/embed/cache.ts:2 core-imports-no-service db']);
    expect(formatViolations(v)).toBe(
      "src/main/embed/cache.ts:2  [core-imports-no-service]  imports '../db/database' (db): a domain core is handed what it needs " +
        '(a cache interface, a progress callback): it imports no store, job, app, access policy, event bus or transport',
    );
  });

  it('fails `npm run lint:layers` on a deliberately wrong import, naming file, line and rule', () => {
    const root = tree({
      'src/main/db/database.ts': 'export type Db = { name: string };\n',
      'src/main/embed/cache.ts': "import type { Db } from '../db/database';\nexport const f = (db: Db) => db.name;\n",
    });
    const lint = join(repoRoot, 'scripts', 'layers', 'lint.ts');
    const bad = spawnSync(process.execPath, ['--import', 'tsx', lint, root], { encoding: 'utf8', cwd: repoRoot });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("src/main/embed/cache.ts:1  [core-imports-no-service]  imports '../db/database' (db)");
    expect(bad.stderr).toContain('layers: 1 violation (rules: scripts/layers/rules.ts)');
    writeFileSync(join(root, 'src/main/embed/cache.ts'), 'export const f = (db: { name: string }) => db.name;\n');
    const good = spawnSync(process.execPath, ['--import', 'tsx', lint, root], { encoding: 'utf8', cwd: repoRoot });
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('layers: no violations');
  });

  it('places the domain folders still to come (merge, recipes, replicate, train-methods) as cores', () => {
    const root = tree({
      'src/main/engine/index.ts': 'export const loadModel = 1;\n',
      'src/main/jobs/runner.ts': 'export const run = 1;\n',
      'src/main/merge/linear.ts': "import { loadModel } from '../engine/index';\n",
      'src/main/recipes/axolotl.ts': "import { loadModel } from '../engine';\n",
      'src/main/train-methods/der.ts': "import { loadModel } from '../engine/index.js';\n",
      'src/main/replicate/pipeline.ts': "import { loadModel } from '../engine';\nimport { run } from '../jobs/runner';\n",
    });
    expect(brief(checkLayers(root, layerRules))).toEqual(['src/main/replicate/pipeline.ts:2 core-imports-no-service jobs']);
  });

  it('passes a tree that keeps the layers, and counts no import inside a comment or a string', () => {
    const root = tree({
      'src/shared/contract.ts': "import { z } from 'zod';\nexport const X = z.string();\n",
      'src/main/events/bus.ts': "import { X } from '../../shared/contract';\nexport class EventBus { x = X; }\n",
      'src/main/db/database.ts': "import Database from 'better-sqlite3';\nexport type Db = Database.Database;\n",
      'src/main/embed/cache.ts': "// import type { Db } from '../db/database';\nexport const note = \"import '../db/database'\";\n",
      'src/main/jobs/runner.ts':
        "import type { EventBus } from '../events/bus';\nimport type { Db } from '../db/database';\nimport { note } from '../embed/cache';\n",
      'src/main/app/services.ts': "import '../jobs/runner';\nimport { EventBus } from '../events/bus';\n",
      'src/main/index.ts': "import { app } from 'electron';\nimport './app/services';\n",
      'src/renderer/src/App.tsx': "import { useState } from 'react';\nimport { X } from '../../shared/contract';\n",
    });
    expect(checkLayers(root, layerRules)).toEqual([]);
  });

  it('reports each kind of break: type-only and dynamic imports, packages, the contract, the renderer', () => {
    const root = tree({
      'src/main/app/events.ts': 'export class EventBus {}\n',
      'src/main/jobs/runner.ts': "import type { EventBus } from '../app/events';\n",
      'src/main/data/import.ts': "export async function f() {\n  return import('../jobs/runner');\n}\n",
      'src/main/detect/x.ts': "import Database from 'better-sqlite3';\n",
      'src/shared/x.ts': "import { readFileSync } from 'node:fs';\nimport type { EventBus } from '../main/app/events';\n",
      'src/renderer/src/a.tsx': "import { ipcRenderer } from 'electron';\nimport { join } from 'path';\n",
      'src/main/electron/policy.ts': "import { BrowserWindow } from 'electron';\n",
    });
    expect(brief(checkLayers(root, layerRules))).toEqual([
      'src/main/data/import.ts:2 core-imports-no-service jobs',
      'src/main/detect/x.ts:1 core-no-electron-or-sqlite npm:better-sqlite3',
      'src/main/detect/x.ts:1 sqlite-only-in-db npm:better-sqlite3',
      'src/main/electron/policy.ts:1 electron-only-in-entry npm:electron',
      'src/main/jobs/runner.ts:1 jobs-import-no-app app',
      'src/renderer/src/a.tsx:1 electron-only-in-entry npm:electron',
      'src/renderer/src/a.tsx:1 renderer-speaks-the-contract npm:electron',
      'src/renderer/src/a.tsx:2 renderer-speaks-the-contract node:builtin',
      'src/shared/x.ts:1 shared-is-the-contract node:builtin',
      'src/shared/x.ts:2 shared-is-the-contract app',
    ]);
  });

  it('reports a file in no layer group and an import cycle', () => {
    const root = tree({
      'src/main/newfolder/thing.ts': 'export const a = 1;\n',
      'src/main/select/a.ts': "import { b } from './b';\nexport const a = 1;\n",
      'src/main/select/b.ts': "import { c } from './c';\nexport const b = 1;\n",
      'src/main/select/c.ts': "import type { a } from './a.js';\nexport const c = 1;\n",
    });
    const v = checkLayers(root, layerRules);
    expect(brief(v)).toEqual(['src/main/newfolder/thing.ts:0 placed ', 'src/main/select/a.ts:1 acyclic ']);
    expect(v[1]!.message).toBe(
      'is in an import cycle of 3 files: src/main/select/a.ts -> src/main/select/b.ts -> src/main/select/c.ts -> src/main/select/a.ts',
    );
  });

  it('reports a new file named against its kind: kebab-case modules, lowercase-dash components, unnumbered migrations', () => {
    const root = tree({
      'src/main/eval/suites/harm-bench.ts': 'export const a = 1;\n',
      'src/main/eval/suites/harmBench2.ts': 'export const a = 1;\n',
      'src/renderer/src/project/run-detail.tsx': 'export const A = 1;\n',
      'src/renderer/src/project/RunDetail.tsx': 'export const A = 1;\n',
      'src/renderer/src/widgets.tsx': 'export const A = 1;\n',
      'src/main/db/migrations/008_merge_sweeps.ts': 'export const m = 1;\n',
      'src/main/db/migrations/9-more.ts': 'export const m = 1;\n',
      'src/main/db/migrations/index.ts': 'export const m = 1;\n',
    });
    const v = checkLayers(root, layerRules);
    expect(brief(v)).toEqual([
      'src/main/db/migrations/9-more.ts:0 migration-file-name ',
      'src/main/eval/suites/harm-bench.ts:0 module-file-name ',
      'src/renderer/src/project/run-detail.tsx:0 component-file-name ',
    ]);
    expect(v[1]!.message).toBe(
      '"harm-bench" is not named as a module: camelCase, letters and digits only (engineGenerator.ts, llamaGuard3.ts); rename it and update its imports',
    );
  });
});
