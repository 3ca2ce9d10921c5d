import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import type { Project } from '../../../shared/domain';
import { api } from '../api/client';
import { useAction, useCall, useEvent } from '../api/hooks';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Button, Card, Dialog, ErrorBanner, TextField, formatDate, ListState } from '../components/ui';
import { ReplicationCard, useReplicationStart } from './ReplicationCard';

/** Home: create, open, rename and delete projects. */
export function ProjectsPage() {
  const { data, error, loading, reload } = useCall('projects.list', {});
  useEvent('projects.changed', reload);
  const replication = useReplicationStart();
  const [name, setName] = useState('');
  const create = useAction(async (n: string) => {
    await api.call('projects.create', { name: n });
    setName('');
    reload();
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void create.run(name);
  };

  // the first-run action while there are no projects yet; below the list afterwards
  const empty = !loading && !error && data?.length === 0;
  return (
    <div className="page">
      <h1>Projects</h1>
      {empty && <ReplicationCard prominent replication={replication} />}
      <Card title="New project">
        <form className="inline-form" onSubmit={onSubmit}>
          <TextField
            label="Project name"
            placeholder="e.g. Alpaca + SSS-B 50"
            value={name}
            onChange={(e) => setName(e.target.value)}
            error={create.error?.message}
            maxLength={120}
          />
          <Button type="submit" variant="primary" busy={create.pending} disabled={!name.trim()}>
            Create project
          </Button>
        </form>
      </Card>
      <Card title="All projects">
        <ErrorBanner error={error} />
        <ListState
          loading={loading}
          items={data}
          loadingLabel="Loading projects"
          emptyTitle="No projects yet"
          empty="Create one above to import data and start curating."
        >
          {(list) => (
            <table className="table" aria-label="Projects">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((p) => (
                  <ProjectRow key={p.id} project={p} onChanged={reload} />
                ))}
              </tbody>
            </table>
          )}
        </ListState>
      </Card>
      {data && data.length > 0 && <ReplicationCard prominent={false} replication={replication} />}
    </div>
  );
}

function ProjectRow({ project, onChanged }: { project: Project; onChanged: () => void }) {
  const [renaming, setRenaming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [newName, setNewName] = useState(project.name);
  const rename = useAction(async () => {
    await api.call('projects.rename', { id: project.id, name: newName });
    setRenaming(false);
    onChanged();
  });
  const remove = useAction(async () => {
    await api.call('projects.delete', { id: project.id });
    setDeleting(false);
    onChanged();
  });
  return (
    <tr data-project-id={project.id}>
      <td>
        <Link to={`/projects/${project.id}/data`} className="project-link">
          {project.name}
        </Link>
      </td>
      <td>{formatDate(project.createdAt)}</td>
      <td className="row-actions">
        <Button
          variant="ghost"
          onClick={() => {
            setNewName(project.name);
            setRenaming(true);
          }}
          aria-label={`Rename ${project.name}`}
        >
          Rename
        </Button>
        <Button variant="ghost" onClick={() => setDeleting(true)} aria-label={`Delete ${project.name}`}>
          Delete
        </Button>
        <Dialog
          open={renaming}
          title={`Rename “${project.name}”`}
          onClose={() => setRenaming(false)}
          footer={
            <>
              <Button onClick={() => setRenaming(false)}>Cancel</Button>
              <Button variant="primary" busy={rename.pending} onClick={() => void rename.run()} disabled={!newName.trim()}>
                Save
              </Button>
            </>
          }
        >
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void rename.run();
            }}
          >
            <TextField label="New name" value={newName} onChange={(e) => setNewName(e.target.value)} error={rename.error?.message} autoFocus />
          </form>
        </Dialog>
        {deleting && (
          <ConfirmDialog
            title={`Delete “${project.name}”?`}
            action="Delete project"
            busy={remove.pending}
            onConfirm={() => void remove.run()}
            onClose={() => setDeleting(false)}
          >
            <p>Its data, selections, runs and evaluations are removed from this workspace. Running jobs are cancelled.</p>
            <ErrorBanner error={remove.error} />
          </ConfirmDialog>
        )}
      </td>
    </tr>
  );
}
