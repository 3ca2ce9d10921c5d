import { useContext } from 'react';
import { HashRouter, Link, NavLink, Route, Routes } from 'react-router';
import { useCall, useEvent } from './api/hooks';
import { ConnectionGate } from './components/ConnectionGate';
import { AppInfoContext } from './components/PathField';
import { JobsPanel } from './jobs/JobsPanel';
import { FoldersPage } from './pages/FoldersPage';
import { ProjectPage } from './pages/ProjectPage';
import { ModelsPage } from './pages/ModelsPage';
import { ProjectsPage } from './pages/ProjectsPage';

export function App() {
  return (
    <ConnectionGate>
      <Workbench />
    </ConnectionGate>
  );
}

function Workbench() {
  const { data: info } = useCall('app.info', {});
  return (
    <AppInfoContext.Provider value={info ?? null}>
      <HashRouter>
        <div className="shell">
          <Sidebar />
          <main className="main" id="main">
            <Routes>
              <Route path="/" element={<ProjectsPage />} />
              <Route path="/projects/:id/:tab?" element={<ProjectPage />} />
              <Route path="/models" element={<ModelsPage />} />
              <Route path="/settings/folders" element={<FoldersPage />} />
              <Route path="*" element={<ProjectsPage />} />
            </Routes>
          </main>
          <JobsPanel />
        </div>
      </HashRouter>
    </AppInfoContext.Provider>
  );
}

function Sidebar() {
  const { data: projects, reload } = useCall('projects.list', {});
  const info = useContext(AppInfoContext);
  useEvent('projects.changed', reload);
  return (
    <nav className="sidebar" aria-label="Main">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Link to="/" className="brand">
        SafeTune <span>Workbench</span>
      </Link>
      <NavLink to="/" end className={({ isActive }) => `nav-item${isActive ? ' nav-active' : ''}`}>
        All projects
      </NavLink>
      <NavLink to="/models" className={({ isActive }) => `nav-item${isActive ? ' nav-active' : ''}`}>
        Models &amp; Playground
      </NavLink>
      <NavLink to="/settings/folders" className={({ isActive }) => `nav-item${isActive ? ' nav-active' : ''}`}>
        Folders &amp; servers
      </NavLink>
      <div className="nav-section">Projects</div>
      <ul className="nav-projects">
        {(projects ?? []).map((p) => (
          <li key={p.id}>
            <NavLink to={`/projects/${p.id}/data`} className={({ isActive }) => `nav-item${isActive ? ' nav-active' : ''}`}>
              {p.name}
            </NavLink>
          </li>
        ))}
      </ul>
      {info && (
        <footer className="sidebar-footer" title={info.databasePath}>
          v{info.version} · {info.mode} mode
          <br />
          <span className="muted">{info.workspace}</span>
        </footer>
      )}
    </nav>
  );
}
