/**
 * The layers of the code base and the imports each may make, checked by scripts/layers/check.ts in
 * `npm test` (test/unit/layers) and by `npm run lint:layers`. Every import counts, `import type`
 * included: a type is a dependency too.
 *
 * From the top: the transports (desktop shell, CLI, browser-mode server) call the app (service
 * composition and the contract's handlers), which queues jobs (worker threads) and applies the
 * access policy; jobs and access read and write through the db stores; everything above may call
 * the domain cores, which compute over files and values they are handed and know nothing of the
 * workspace database, the job runner or a transport. src/shared is the one typed contract under
 * all of them, and the renderer speaks only that contract.
 */
import type { LayerRules } from './check';

/**
 * Domain cores: computation over files and values they are handed (usable from the CLI, tests,
 * benches and workers). Besides the first six: merge (model merging: model files in, a model file
 * out), train-methods (one file per training method over the engine's trainer), recipes (export of
 * a run as a LLaMA-Factory / Axolotl recipe) and replicate (the miniature replication's pipeline over
 * the engine, select, detect and eval cores). A group whose folder does not exist yet matches no
 * file and breaks nothing; it is listed so the folder is placed when it lands.
 */
const CORES = ['engine', 'eval', 'select', 'detect', 'embed', 'data', 'merge', 'recipes', 'train-methods', 'replicate'];
/**
 * The services between the transports and the cores. access (the path and URL policy) is one of
 * them, not a core: it reads the granted folders through the db store and guards the app's calls.
 */
const SERVICES = ['db', 'jobs', 'access', 'app', 'events'];
/** The transports: the CLI, the browser-mode server and the desktop shell (its Electron entry and window policy). */
const TRANSPORTS = ['cli', 'server', 'electron-main', 'window-policy'];

export const layerRules: LayerRules = {
  /** Layer groups by path (a folder ends in "/"); a file takes the group of the longest matching path. */
  groups: {
    shared: ['src/shared/'],
    renderer: ['src/renderer/'],
    preload: ['src/preload/'],
    'electron-main': ['src/main/index.ts', 'src/main/ipc.ts'],
    'window-policy': ['src/main/electron/'],
    cli: ['src/main/cli.ts', 'src/main/cli/'],
    server: ['src/main/server/'],
    app: ['src/main/app/'],
    jobs: ['src/main/jobs/'],
    access: ['src/main/access/'],
    db: ['src/main/db/'],
    events: ['src/main/events/'],
    util: ['src/main/util/'],
    engine: ['src/main/engine/'],
    eval: ['src/main/eval/'],
    select: ['src/main/select/'],
    detect: ['src/main/detect/'],
    embed: ['src/main/embed/'],
    data: ['src/main/data/'],
    merge: ['src/main/merge/'],
    recipes: ['src/main/recipes/'],
    'train-methods': ['src/main/train-methods/'],
    replicate: ['src/main/replicate/'],
    resources: ['resources/'],
  },

  rules: [
    {
      id: 'core-imports-no-service',
      why: 'a domain core is handed what it needs (a cache interface, a progress callback): it imports no store, job, app, access policy, event bus or transport',
      from: CORES,
      forbid: [...SERVICES, ...TRANSPORTS],
    },
    {
      id: 'core-no-electron-or-sqlite',
      why: 'domain cores run under plain Node in worker threads, the CLI and benches',
      from: CORES,
      forbid: ['npm:electron', 'npm:better-sqlite3'],
    },
    {
      id: 'db-imports-only-shared',
      why: 'the db stores own their tables and the row types they return; what they share with a core is defined in src/shared',
      from: ['db'],
      onlyProject: ['db', 'shared'],
    },
    {
      id: 'sqlite-only-in-db',
      why: 'SQL lives in the db stores: no other module opens or prepares on the database driver',
      from: ['*'],
      except: ['db'],
      forbid: ['npm:better-sqlite3'],
    },
    {
      id: 'jobs-import-no-app',
      why: 'jobs run in worker threads and are composed by the app: they import no app module, access policy or transport',
      from: ['jobs'],
      forbid: ['app', 'access', ...TRANSPORTS],
    },
    {
      id: 'access-below-app',
      why: 'the access policy checks calls for the app; it reads its lists through the db store and knows no job runner or transport',
      from: ['access'],
      forbid: ['app', 'jobs', 'events', ...TRANSPORTS],
    },
    {
      id: 'events-only-contract',
      why: 'the event bus fans contract events out to the transports: it knows only the contract',
      from: ['events'],
      onlyProject: ['shared'],
    },
    {
      id: 'util-is-a-leaf',
      why: 'small helpers every layer may use: they import no other part of src/main',
      from: ['util'],
      onlyProject: ['util', 'shared'],
    },
    {
      id: 'app-below-transports',
      why: 'the app is shared by the desktop window, browser mode and the CLI: it imports none of them',
      from: ['app'],
      forbid: TRANSPORTS,
    },
    {
      id: 'server-not-cli-or-desktop',
      why: 'the browser-mode server is one transport; the CLI starts it, not the other way round',
      from: ['server'],
      forbid: ['cli', 'electron-main', 'window-policy'],
    },
    {
      id: 'window-policy-is-pure',
      why: 'the window policy is kept free of Electron so it can be tested under plain Node; src/main/index.ts applies it',
      from: ['window-policy'],
      onlyProject: ['window-policy', 'shared'],
    },
    {
      id: 'electron-only-in-entry',
      why: 'only the Electron entry, its IPC binding and the preload import electron (browser mode and the CLI run without it)',
      from: ['*'],
      except: ['electron-main', 'preload'],
      forbid: ['npm:electron'],
    },
    {
      id: 'shared-is-the-contract',
      why: 'src/shared is compiled into the main process and the renderer: it imports nothing from them and no Node or Electron module (DOM and Node globals are kept out by type-checking it under both tsconfig.node.json, without the DOM library, and tsconfig.web.json, without Node types)',
      from: ['shared'],
      onlyProject: ['shared'],
      forbid: ['node:builtin', 'npm:electron'],
    },
    {
      id: 'renderer-speaks-the-contract',
      why: 'the renderer runs in a sandboxed page: it reaches the main process only through the contract in src/shared',
      from: ['renderer'],
      onlyProject: ['renderer', 'shared'],
      forbid: ['node:builtin', 'npm:electron'],
    },
    {
      id: 'preload-only-bridges',
      why: 'the preload only exposes the contract through contextBridge',
      from: ['preload'],
      onlyProject: ['shared'],
    },
  ],

  /**
   * File names, one convention per kind (README.md, Layout): numbered migrations, React component
   * files, and every other module. Folder names are not checked.
   */
  fileNames: {
    rules: [
      {
        id: 'migration-file-name',
        why: 'a migration: its three-digit number and snake_case words, e.g. 008_merge_sweeps',
        files: /^src\/main\/db\/migrations\/\d/,
        name: /^\d{3}_[a-z0-9]+(_[a-z0-9]+)*$/,
      },
      {
        id: 'component-file-name',
        why: 'a .tsx file: PascalCase for a React component (RunDetail.tsx), camelCase for a module of several (widgets.tsx)',
        files: /\.tsx$/,
        name: /^[A-Za-z][A-Za-z0-9]*$/,
      },
      {
        id: 'module-file-name',
        why: 'a module: camelCase, letters and digits only (engineGenerator.ts, llamaGuard3.ts)',
        files: /^src\//,
        name: /^[a-z][A-Za-z0-9]*$/,
      },
    ],
  },

  /** Every file under these folders must be in a group: a new folder is placed in the layers on purpose. */
  placed: ['src/'],

  /** No import cycles among the files under these folders (type-only imports included). */
  acyclic: ['src/main/'],
};
