import { AppError } from '../../shared/errors';
import type { Endpoint, Grant } from '../../shared/access';
import { nowIso, type Db } from './database';

interface GrantRow {
  id: number;
  path: string;
  kind: 'folder' | 'file';
  created_at: string;
}

interface EndpointRow {
  id: number;
  name: string;
  base_url: string;
  api_key: string | null;
  created_at: string;
}

const toGrant = (r: GrantRow): Grant => ({ id: r.id, path: r.path, kind: r.kind, createdAt: r.created_at });
const toEndpoint = (r: EndpointRow): Endpoint => ({ id: r.id, name: r.name, baseUrl: r.base_url, hasApiKey: r.api_key !== null, createdAt: r.created_at });

/**
 * The workspace's access lists: folders and files granted for reading (stored resolved, as
 * src/main/access checks them) and the evaluation servers with their API keys. Keys are read
 * only by the job that calls the server (`endpointKey`), never returned to a caller.
 */
export class AccessStore {
  constructor(private readonly db: Db) {}

  grants(): Grant[] {
    return (this.db.prepare('SELECT * FROM access_grants ORDER BY path').all() as GrantRow[]).map(toGrant);
  }

  /** Adds a grant; granting the same path again returns the existing one. */
  addGrant(path: string, kind: Grant['kind']): Grant {
    this.db.prepare('INSERT INTO access_grants (path, kind, created_at) VALUES (?, ?, ?) ON CONFLICT(path) DO NOTHING').run(path, kind, nowIso());
    return toGrant(this.db.prepare('SELECT * FROM access_grants WHERE path = ?').get(path) as GrantRow);
  }

  removeGrant(id: number): void {
    const r = this.db.prepare('DELETE FROM access_grants WHERE id = ?').run(id);
    if (r.changes === 0) throw new AppError('not_found', `Grant ${id} does not exist`, { id });
  }

  endpoints(): Endpoint[] {
    return (this.db.prepare('SELECT * FROM endpoints ORDER BY name, id').all() as EndpointRow[]).map(toEndpoint);
  }

  endpoint(id: number): Endpoint {
    return toEndpoint(this.row(id));
  }

  /** The endpoint configured for exactly this (normalised) base URL, if any. */
  endpointByUrl(baseUrl: string): Endpoint | undefined {
    const row = this.db.prepare('SELECT * FROM endpoints WHERE base_url = ?').get(baseUrl) as EndpointRow | undefined;
    return row ? toEndpoint(row) : undefined;
  }

  /** The API key stored with an endpoint (for the job that calls it). */
  endpointKey(id: number): string | null {
    return this.row(id).api_key;
  }

  addEndpoint(e: { baseUrl: string; name: string; apiKey: string | null }): Endpoint {
    if (this.endpointByUrl(e.baseUrl))
      throw new AppError('conflict', `${e.baseUrl} is already configured: remove it first to change its name or key`, { baseUrl: e.baseUrl });
    const info = this.db.prepare('INSERT INTO endpoints (name, base_url, api_key, created_at) VALUES (?, ?, ?, ?)').run(e.name, e.baseUrl, e.apiKey, nowIso());
    return this.endpoint(Number(info.lastInsertRowid));
  }

  removeEndpoint(id: number): void {
    this.row(id);
    this.db.prepare('DELETE FROM endpoints WHERE id = ?').run(id);
  }

  private row(id: number): EndpointRow {
    const row = this.db.prepare('SELECT * FROM endpoints WHERE id = ?').get(id) as EndpointRow | undefined;
    if (!row) throw new AppError('not_found', `Server ${id} is not configured`, { id });
    return row;
  }
}
