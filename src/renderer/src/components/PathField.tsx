import { createContext, useContext, type InputHTMLAttributes } from 'react';
import type { AppInfo } from '../../../shared/domain';
import { api } from '../api/client';
import { useAction } from '../api/hooks';
import { Button, TextField } from './ui';

/** What the app shell can do (set once by App from `app.info`). */
export const AppInfoContext = createContext<AppInfo | null>(null);

/**
 * A path on the machine running the workbench: typed, or — in the desktop app — chosen with the
 * OS file dialog ("File…" / "Folder…" buttons, per `kinds`).
 */
export function PathField({
  kinds,
  onPick,
  ...field
}: Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange'> & {
  label: string;
  hint?: string;
  error?: string | null;
  value: string;
  onChange: InputHTMLAttributes<HTMLInputElement>['onChange'];
  kinds: readonly ('file' | 'folder')[];
  onPick: (path: string) => void;
}) {
  const info = useContext(AppInfoContext);
  const pick = useAction(async (kind: 'file' | 'folder') => {
    const r = await api.call('app.pickPath', { kind, title: field.label });
    if (r.path) onPick(r.path);
  });
  return (
    <div className="path-field">
      <TextField {...field} error={field.error ?? pick.error?.message} />
      {info?.canPickPaths &&
        kinds.map((k) => (
          <Button key={k} onClick={() => void pick.run(k)} aria-label={`Choose ${k} for ${field.label}`}>
            {k === 'file' ? 'File…' : 'Folder…'}
          </Button>
        ))}
    </div>
  );
}
