import { useContext, useState, type FormEvent } from 'react';
import type { Endpoint, Grant } from '../../../shared/access';
import { api } from '../api/client';
import { useAction, useCall, useEvent } from '../api/hooks';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { AppInfoContext } from '../components/PathField';
import { Button, Card, ErrorBanner, ListState, TextField } from '../components/ui';

/**
 * Settings → Folders & servers: what this workspace may read (the workspace itself plus the
 * folders and files granted here) and which OpenAI-compatible servers evaluations may call.
 */
export function FoldersPage() {
  return (
    <div className="page">
      <h1>Folders &amp; servers</h1>
      <FoldersCard />
      <ServersCard />
    </div>
  );
}

function FoldersCard() {
  const folders = useCall('access.folders', {});
  const info = useContext(AppInfoContext);
  const reload = folders.reload;
  useEvent('access.changed', reload);
  const [path, setPath] = useState('');
  const grant = useAction(async () => {
    await api.call('access.grant', { path: path.trim() });
    setPath('');
    reload();
  });
  const pick = useAction(async () => {
    await api.call('app.pickPath', { kind: 'folder', title: 'Grant a folder' });
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void grant.run();
  };
  return (
    <Card title="Folders this workspace may read">
      <p className="muted">
        The workbench reads files only inside its workspace
        {folders.data && (
          <>
            {' '}
            (<code>{folders.data.workspace}</code>)
          </>
        )}{' '}
        and the folders or files granted here, and writes only into its own folders there: training mixes and merged models go to{' '}
        {folders.data ? <code>{folders.data.exportsDir}</code> : 'exports/'} and the workspace's models/ folder. Your home folder itself, the whole disk and
        folders holding keys or system settings cannot be granted.
      </p>
      <form className="inline-form" onSubmit={onSubmit}>
        <TextField
          label="Folder or file to grant"
          placeholder="/data/safety-sets"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          error={grant.error?.message ?? pick.error?.message}
          hint="An absolute path on the machine running the workbench"
        />
        <Button type="submit" variant="primary" busy={grant.pending} disabled={!path.trim()}>
          Grant
        </Button>
        {info?.canPickPaths && (
          <Button onClick={() => void pick.run()} busy={pick.pending}>
            Choose folder…
          </Button>
        )}
      </form>
      <ErrorBanner error={folders.error} />
      <ListState
        loading={folders.loading}
        items={folders.data?.grants}
        loadingLabel="Loading grants"
        emptyTitle="No folders granted yet"
        empty="Grant the folders that hold your data and models above."
      >
        {(list) => (
          <table className="table" aria-label="Granted folders">
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">Kind</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((g) => (
                <GrantRow key={g.id} grant={g} />
              ))}
            </tbody>
          </table>
        )}
      </ListState>
    </Card>
  );
}

function GrantRow({ grant }: { grant: Grant }) {
  const [asking, setAsking] = useState(false);
  const revoke = useAction(async () => {
    await api.call('access.revoke', { id: grant.id });
    setAsking(false);
  });
  const what = grant.kind === 'folder' ? 'folder' : 'file';
  return (
    <tr>
      <td>
        <code>{grant.path}</code>
      </td>
      <td>{grant.kind === 'folder' ? 'folder and everything in it' : 'this file only'}</td>
      <td className="row-actions">
        <Button variant="ghost" onClick={() => setAsking(true)} aria-label={`Revoke ${grant.path}`}>
          Revoke
        </Button>
        {asking && (
          <ConfirmDialog
            title={`Revoke access to ${grant.path}?`}
            action="Revoke access"
            busy={revoke.pending}
            onConfirm={() => void revoke.run()}
            onClose={() => setAsking(false)}
          >
            <p>
              The app will no longer read this {what}: data sets, models and suites under it stay listed but cannot be read until it is granted again. Nothing
              on disk is deleted.
            </p>
            <ErrorBanner error={revoke.error} />
          </ConfirmDialog>
        )}
      </td>
    </tr>
  );
}

function ServersCard() {
  const endpoints = useCall('access.endpoints', {});
  const reload = endpoints.reload;
  useEvent('access.changed', reload);
  const [baseUrl, setBaseUrl] = useState('');
  const [name, setName] = useState('');
  const [apiKey, setApiKey] = useState('');
  const add = useAction(async () => {
    await api.call('access.addEndpoint', {
      baseUrl: baseUrl.trim(),
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(apiKey.trim() ? { apiKey: apiKey.trim() } : {}),
    });
    setBaseUrl('');
    setName('');
    setApiKey('');
    reload();
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void add.run();
  };
  return (
    <Card title="Servers evaluations and judges may call">
      <p className="muted">
        OpenAI-compatible servers (vLLM, llama.cpp server, Ollama, TGI). An evaluation, or a model judge in Analyse, calls only a server listed here — one on
        this machine (127.0.0.1, localhost) too — and sends it only the API key stored with it.
      </p>
      <form className="inline-form" onSubmit={onSubmit}>
        <TextField
          label="Server URL"
          placeholder="http://127.0.0.1:8000"
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.target.value)}
          error={add.error?.message}
        />
        <TextField label="Server name (optional)" value={name} onChange={(e) => setName(e.target.value)} maxLength={120} />
        <TextField label="API key (optional)" type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
        <Button type="submit" variant="primary" busy={add.pending} disabled={!baseUrl.trim()}>
          Add server
        </Button>
      </form>
      <ErrorBanner error={endpoints.error} />
      <ListState
        loading={endpoints.loading}
        items={endpoints.data}
        loadingLabel="Loading servers"
        emptyTitle="No servers yet"
        empty="Add the address of a server to evaluate models it serves."
      >
        {(list) => (
          <table className="table" aria-label="Servers">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">URL</th>
                <th scope="col">API key</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <ServerRow key={e.id} endpoint={e} />
              ))}
            </tbody>
          </table>
        )}
      </ListState>
    </Card>
  );
}

function ServerRow({ endpoint }: { endpoint: Endpoint }) {
  const remove = useAction(() => api.call('access.removeEndpoint', { id: endpoint.id }));
  return (
    <tr>
      <td>
        {endpoint.name}
        {remove.error && <div className="field-error">{remove.error.message}</div>}
      </td>
      <td>
        <code>{endpoint.baseUrl}</code>
      </td>
      <td>{endpoint.hasApiKey ? 'stored' : 'none'}</td>
      <td className="row-actions">
        <Button variant="ghost" onClick={() => void remove.run()} aria-label={`Remove server ${endpoint.name}`}>
          Remove
        </Button>
      </td>
    </tr>
  );
}
