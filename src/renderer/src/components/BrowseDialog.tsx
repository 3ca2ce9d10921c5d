import { useState } from 'react';
import { Link } from 'react-router';
import { useCall } from '../api/hooks';
import { Button, Dialog, ErrorBanner, Spinner } from './ui';

const size = (b: number) =>
  b < 1024 ? `${b} B` : b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : b < 2 ** 30 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * Picks a file or folder among the places this workspace may read (the workspace and the granted
 * folders, listed by `access.browse`), so paths are chosen rather than typed.
 */
export function BrowseDialog({
  label,
  kinds,
  onChoose,
  onClose,
}: {
  label: string;
  kinds: readonly ('file' | 'folder')[];
  onChoose: (path: string) => void;
  onClose: () => void;
}) {
  const [at, setAt] = useState<string | null>(null);
  const listing = useCall('access.browse', at === null ? {} : { path: at }, [at]);
  const data = listing.data;
  const here = data?.path ?? null;
  const canChooseFile = kinds.includes('file');
  return (
    <Dialog
      open
      title={`Choose a ${kinds.join(' or ')} for ${label}`}
      onClose={onClose}
      footer={
        <>
          {kinds.includes('folder') && here !== null && (
            <Button variant="primary" onClick={() => onChoose(here)}>
              Choose this folder
            </Button>
          )}
          <Button onClick={onClose}>Cancel</Button>
        </>
      }
    >
      <div className="browse-location">
        {here !== null ? (
          <>
            <Button variant="ghost" onClick={() => setAt(data?.parent ?? null)} aria-label="Up one folder">
              ↑ Up
            </Button>
            <code>{here}</code>
          </>
        ) : (
          <span className="muted">Places this workspace may read</span>
        )}
      </div>
      <ErrorBanner error={listing.error} />
      {listing.loading && !data ? (
        <Spinner label="Listing" />
      ) : (
        <ul className="browse-list" aria-label="Folder contents">
          {data?.entries.length === 0 && <li className="muted browse-empty">This folder is empty.</li>}
          {data?.entries.map((e) => (
            <li key={e.path}>
              <button
                type="button"
                className="browse-entry"
                data-kind={e.kind}
                disabled={e.kind === 'file' && !canChooseFile}
                onClick={() => (e.kind === 'folder' ? setAt(e.path) : onChoose(e.path))}
              >
                <span aria-hidden="true">{e.kind === 'folder' ? '▸' : '·'}</span>
                <span className="browse-name">{e.name}</span>
                {e.size !== null && <span className="muted small">{size(e.size)}</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
      {here === null && data && data.entries.length <= 1 && (
        <p className="muted">
          Only the workspace is readable so far: grant the folders that hold your data in <Link to="/settings/folders">Folders &amp; servers</Link>.
        </p>
      )}
      {data?.truncated && <p className="muted">Only the first {data.entries.length.toLocaleString()} entries are listed.</p>}
    </Dialog>
  );
}
