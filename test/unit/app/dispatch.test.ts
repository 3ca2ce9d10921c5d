import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createDispatcher } from '../../../src/main/app/dispatch';
import { createHandlers, type Handlers } from '../../../src/main/app/handlers';
import { calls } from '../../../src/shared/contract';
import { AppError } from '../../../src/shared/errors';
import { tempDir, testServices } from '../../helpers/services';

function spyHandlers(): Handlers {
  const h = {} as Record<string, unknown>;
  for (const name of Object.keys(calls)) h[name] = vi.fn(() => ({}));
  return h as unknown as Handlers;
}
const quiet = () => {};

describe('contract dispatch', () => {
  it('rejects a bad argument with a typed error before any handler runs', async () => {
    const handlers = spyHandlers();
    const dispatch = createDispatcher(handlers, quiet);
    for (const [name, input] of [
      ['projects.create', { name: '' }],
      ['projects.create', { name: 42 }],
      ['projects.create', { name: 'ok', extra: true }],
      ['projects.rename', { id: -1, name: 'x' }],
      ['jobs.start', { spec: { type: 'file.checksum', params: { path: '' } } }],
      ['jobs.start', { spec: { type: 'rm -rf', params: {} } }],
      ['jobs.list', { limit: 1e9 }],
    ] as const) {
      const r = await dispatch(name, input);
      expect(r.ok, `${name} ${JSON.stringify(input)}`).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('invalid_input');
        expect(r.error.message).toContain(name);
        expect(Array.isArray((r.error.details as { issues: unknown[] }).issues)).toBe(true);
      }
    }
    for (const fn of Object.values(handlers)) expect(fn).not.toHaveBeenCalled();
  });

  it('rejects unknown calls, including prototype names', async () => {
    const dispatch = createDispatcher(spyHandlers(), quiet);
    for (const name of ['nope', '__proto__', 'constructor', 'toString']) {
      const r = await dispatch(name, {});
      expect(r).toMatchObject({ ok: false, error: { code: 'unknown_call' } });
    }
  });

  it('passes typed errors through and hides internal ones behind a typed envelope', async () => {
    const handlers = spyHandlers();
    handlers['projects.get'] = () => {
      throw new AppError('not_found', 'Project 7 does not exist', { id: 7 });
    };
    handlers['projects.list'] = () => {
      throw new TypeError('undefined is not a function');
    };
    const dispatch = createDispatcher(handlers, quiet);
    expect(await dispatch('projects.get', { id: 7 })).toEqual({
      ok: false,
      error: { code: 'not_found', message: 'Project 7 does not exist', details: { id: 7 } },
    });
    const r = await dispatch('projects.list', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'internal' } });
  });

  it('serves the real handlers end to end', async () => {
    const t = tempDir();
    const s = testServices(t.dir);
    try {
      const dispatch = createDispatcher(createHandlers(s), quiet);
      const created = await dispatch('projects.create', { name: '  Alpaca run  ' });
      expect(created).toMatchObject({ ok: true, value: { name: 'Alpaca run' } });
      const dup = await dispatch('projects.create', { name: 'ALPACA RUN' });
      expect(dup).toMatchObject({ ok: false, error: { code: 'conflict' } });
      const id = (created as { value: { id: number } }).value.id;
      expect(await dispatch('projects.rename', { id, name: 'Renamed' })).toMatchObject({ ok: true, value: { id, name: 'Renamed' } });
      expect(await dispatch('projects.get', { id: 999 })).toMatchObject({ ok: false, error: { code: 'not_found' } });
      expect(await dispatch('projects.delete', { id })).toMatchObject({ ok: true, value: { id, cancelledJobs: 0 } });
      expect(await dispatch('projects.list', {})).toEqual({ ok: true, value: [] });
      // Every value a handler returns satisfies the contract's output schema.
      const info = await dispatch('app.info', {});
      expect(calls['app.info'].output.safeParse((info as { value: unknown }).value).success).toBe(true);
    } finally {
      await s.close();
      t.cleanup();
    }
  });

  it('opens the OS file dialog only where the shell provides one', async () => {
    const t = tempDir();
    const browser = testServices(t.dir);
    try {
      const d = createDispatcher(createHandlers(browser), quiet);
      expect(await d('app.info', {})).toMatchObject({ ok: true, value: { canPickPaths: false } });
      expect(await d('app.pickPath', { kind: 'file' })).toMatchObject({ ok: false, error: { code: 'unsupported' } });
    } finally {
      await browser.close();
    }
    const asked: unknown[] = [];
    const refs = mkdtempSync(join(t.dir, 'refs-'));
    const desktop = testServices(t.dir, { platform: { pickPath: async (o) => (asked.push(o), o.kind === 'folder' ? refs : null) } });
    try {
      const d = createDispatcher(createHandlers(desktop), quiet);
      expect(await d('app.info', {})).toMatchObject({ ok: true, value: { canPickPaths: true } });
      expect(await d('app.pickPath', { kind: 'folder', title: 'Refs' })).toEqual({ ok: true, value: { path: refs } });
      expect(await d('app.pickPath', { kind: 'file' })).toEqual({ ok: true, value: { path: null } });
      expect(await d('app.pickPath', { kind: 'device' })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
      expect(asked).toEqual([{ kind: 'folder', title: 'Refs' }, { kind: 'file' }]);
    } finally {
      await desktop.close();
      t.cleanup();
    }
  });

  it('round-trips error payloads into AppError', () => {
    const e = AppError.fromPayload({ code: 'conflict', message: 'taken', details: { name: 'x' } });
    expect(e).toBeInstanceOf(AppError);
    expect(e.toPayload()).toEqual({ code: 'conflict', message: 'taken', details: { name: 'x' } });
  });
});
