import { NavLink, Navigate, useParams } from 'react-router';
import { useCall, useEvent } from '../api/hooks';
import { FormPathInput } from '../components/PathField';
import { EmptyState, ErrorBanner, Spinner } from '../components/ui';
import { PathInputContext } from '../forms/widgets';
import { PROJECT_TABS } from '../project/tabs';

/** A project's workspace: tabs Data, Select, Train, Evaluate, Compare. */
export function ProjectPage() {
  const params = useParams();
  const id = Number(params.id);
  const tab = PROJECT_TABS.find((t) => t.id === params.tab);
  const { data: project, error, loading, reload } = useCall('projects.get', { id }, [id]);
  useEvent('projects.changed', reload);

  if (!Number.isInteger(id) || id < 1) return <EmptyState title="No such project" />;
  if (!tab) return <Navigate to={`/projects/${id}/data`} replace />;
  if (loading && !project) return <Spinner label="Loading project" />;
  if (error || !project)
    return (
      <div className="page">
        <ErrorBanner error={error} />
      </div>
    );

  const Body = tab.Component;
  return (
    <div className="page">
      <h1>{project.name}</h1>
      <nav className="tabs" aria-label="Project sections">
        {PROJECT_TABS.map((t) => (
          <NavLink key={t.id} to={`/projects/${id}/${t.id}`} className={({ isActive }) => `tab${isActive ? ' tab-active' : ''}`}>
            {t.label}
          </NavLink>
        ))}
      </nav>
      <div className="tab-panel" role="region" aria-label={tab.label}>
        <PathInputContext.Provider value={FormPathInput}>
          <Body project={project} />
        </PathInputContext.Provider>
      </div>
    </div>
  );
}
