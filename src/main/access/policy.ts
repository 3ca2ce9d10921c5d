/**
 * The access policy of one workspace, for every call that arrives through the contract (the
 * browser-mode server and the desktop window's IPC share the handlers that use it):
 *
 *  - reads only inside the workspace and the folders or single files the user granted, checked on
 *    the resolved path (symlinks and `..` followed), so a link inside a granted folder that points
 *    outside it is refused;
 *  - grants refuse the disk root, the home folder and key/system folders (see paths.ts);
 *  - writes only in the workspace's own folders under app-chosen names (see ../util/newFiles.ts);
 *  - outbound calls only to servers the user configured, with the API key stored with them.
 *
 * The `safetune` CLI is the user at their own shell: it calls the services directly, not through
 * the contract handlers, and is deliberately not confined by this policy.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BrowseEntry, BrowseResult, Endpoint, Grant } from '../../shared/access';
import { AppError } from '../../shared/errors';
import type { AccessStore } from '../db/access';
import { assertGrantable, canonicalPath, defaultPathEnv, isInside, whyTooBroad, type PathEnv } from './paths';
import { endpointDisplayName, normaliseBaseUrl } from './urls';
import { exportsFolder, modelsFolder } from '../util/newFiles';

/** Entries one folder listing returns at most. */
export const MAX_BROWSE_ENTRIES = 2000;
/** Entries below a folder parameter checked for links leading outside (a bound on the work per call). */
const MAX_SCANNED_ENTRIES = 20_000;

/** The workspace folders the app itself writes (training runs, engine cache, exports, merged models). */
const APP_FOLDERS = ['runs', 'cache', 'exports', 'models'];

export const GRANT_HINT = 'Grant its folder in Settings → Folders & servers first.';

export class AccessPolicy {
  /** The workspace folder, resolved. */
  readonly workspace: string;
  /**
   * What the workspace reads without a grant: the workspace folder, or — when it is too broad to
   * read as a whole (`--workspace ~`) — only the folders the app writes in it.
   */
  private readonly ownFolders: readonly string[];

  constructor(
    workspace: string,
    private readonly store: AccessStore,
    private readonly env: PathEnv = defaultPathEnv(),
  ) {
    this.workspace = canonicalPath(workspace);
    this.ownFolders = whyTooBroad(this.workspace, env) ? APP_FOLDERS.map((d) => join(this.workspace, d)) : [this.workspace];
  }

  /** Where training mixes are written. */
  get exportsDir(): string {
    return exportsFolder(this.workspace);
  }

  /** Where merged models are written. */
  get modelsDir(): string {
    return modelsFolder(this.workspace);
  }

  grants(): Grant[] {
    return this.store.grants();
  }

  /**
   * The resolved path when the workspace may read it; otherwise `forbidden`, naming the path, what
   * it was for, and how to allow it. `what` says which parameter it is ("the file to import").
   * For a folder, links inside it are checked too, `depth` levels down (default 1; 0: none).
   */
  readable(path: string, what: string, opts: { depth?: number } = {}): string {
    const real = canonicalPath(path, what);
    const grants = this.store.grants();
    if (!this.canRead(real, grants)) {
      const shown = real === path ? path : `${path} (really ${real})`;
      throw new AppError('forbidden', `${shown} is outside the folders this workspace may read (${what}). ${GRANT_HINT}`, { path, field: what });
    }
    const depth = opts.depth ?? 1;
    if (depth > 0) this.checkLinksBelow(real, what, depth, grants, { left: MAX_SCANNED_ENTRIES });
    return real;
  }

  /**
   * A folder the job will read files from (a model, a suite data folder) must not hold links that
   * lead outside the readable places: its entries, `depth` levels down, are checked (at most
   * MAX_SCANNED_ENTRIES of them). Entries that are not links lie inside by construction.
   */
  private checkLinksBelow(folder: string, what: string, depth: number, grants: readonly Grant[], budget: { left: number }): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return; // a file, or unreadable: the job reports it
    }
    for (const e of entries) {
      if (--budget.left < 0) return;
      const path = join(folder, e.name);
      let target = path;
      if (e.isSymbolicLink()) {
        target = canonicalPath(path);
        if (!this.canRead(target, grants)) {
          throw new AppError('forbidden', `${path} links to ${target}, outside the folders this workspace may read (${what}). ${GRANT_HINT}`, {
            path,
            field: what,
          });
        }
      }
      if (depth > 1 && (e.isDirectory() || (e.isSymbolicLink() && isFolder(target)))) this.checkLinksBelow(target, what, depth - 1, grants, budget);
    }
  }

  /** True when a resolved path is inside the workspace, inside a granted folder, or a granted file. */
  canRead(real: string, grants: readonly Grant[] = this.store.grants()): boolean {
    if (this.ownFolders.some((f) => isInside(real, f, this.env.platform))) return true;
    return grants.some((g) => (g.kind === 'folder' ? isInside(real, g.path, this.env.platform) : real === g.path));
  }

  /** True when a resolved path is inside one of the app's own write folders. */
  canWrite(real: string): boolean {
    return [this.exportsDir, this.modelsDir].some((d) => isInside(real, d, this.env.platform));
  }

  /** Grants reading a folder (and everything below it) or one file, stored resolved. */
  grant(path: string): Grant {
    const real = canonicalPath(path, 'the folder or file to grant');
    let kind: Grant['kind'];
    try {
      const st = statSync(real);
      if (!st.isDirectory() && !st.isFile()) throw new AppError('invalid_input', `${path} is not a folder or a regular file`, { path });
      kind = st.isDirectory() ? 'folder' : 'file';
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw new AppError('not_found', `${path} does not exist on the machine running the workbench`, { path });
    }
    assertGrantable(real, kind, this.env);
    return this.store.addGrant(real, kind);
  }

  revoke(id: number): void {
    this.store.removeGrant(id);
  }

  /**
   * Lists a readable folder: its entries (name, kind, size) that the workspace may read too — a link
   * to somewhere outside is left out. Without a path: the readable places (workspace and grants).
   */
  browse(path?: string): BrowseResult {
    if (path === undefined) return { path: null, parent: null, entries: this.places(), truncated: false };
    const real = this.readable(path, 'the folder to browse', { depth: 0 });
    let names: string[];
    try {
      names = readdirSync(real);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new AppError('invalid_input', `${path} is a file, not a folder`, { path });
      if (code === 'ENOENT') throw new AppError('not_found', `${path} does not exist`, { path });
      throw new AppError('invalid_input', `Cannot list ${path}: ${(e as Error).message}`, { path });
    }
    const grants = this.store.grants();
    const entries: BrowseEntry[] = [];
    for (const name of names.sort()) {
      const entry = this.entry(join(real, name), name, grants);
      if (entry) entries.push(entry);
      if (entries.length > MAX_BROWSE_ENTRIES) break;
    }
    entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'folder' ? -1 : 1));
    const up = dirname(real);
    return {
      path: real,
      parent: up !== real && this.canRead(up, grants) ? up : null,
      entries: entries.slice(0, MAX_BROWSE_ENTRIES),
      truncated: entries.length > MAX_BROWSE_ENTRIES,
    };
  }

  private places(): BrowseEntry[] {
    const own = this.ownFolders.map((f): BrowseEntry => ({ name: f === this.workspace ? `Workspace (${f})` : f, path: f, kind: 'folder', size: null }));
    return [...own, ...this.store.grants().map((g) => ({ name: g.path, path: g.path, kind: g.kind, size: g.kind === 'file' ? sizeOf(g.path) : null }))];
  }

  private entry(path: string, name: string, grants: readonly Grant[]): BrowseEntry | null {
    try {
      if (!this.canRead(canonicalPath(path), grants)) return null;
      const st = statSync(path);
      if (st.isDirectory()) return { name, path, kind: 'folder', size: null };
      if (st.isFile()) return { name, path, kind: 'file', size: st.size };
    } catch {
      // unreadable or vanished: not listed
    }
    return null;
  }

  endpoints(): Endpoint[] {
    return this.store.endpoints();
  }

  addEndpoint(e: { baseUrl: string; name?: string | undefined; apiKey?: string | undefined }): Endpoint {
    const baseUrl = normaliseBaseUrl(e.baseUrl);
    return this.store.addEndpoint({ baseUrl, name: e.name || endpointDisplayName(baseUrl), apiKey: e.apiKey ? e.apiKey : null });
  }

  removeEndpoint(id: number): void {
    this.store.removeEndpoint(id);
  }

  /** The configured server for a base URL; `forbidden` when the user has not configured it. */
  allowedEndpoint(baseUrl: string): Endpoint {
    const url = normaliseBaseUrl(baseUrl);
    const e = this.store.endpointByUrl(url);
    if (!e)
      throw new AppError('forbidden', `${url} is not one of the servers this workspace may call. Add it in Settings → Folders & servers first.`, {
        baseUrl: url,
      });
    return e;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}
