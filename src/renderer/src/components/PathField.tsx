import { createContext, useContext, useState, type InputHTMLAttributes } from 'react';
import type { AppInfo } from '../../../shared/domain';
import { api } from '../api/client';
import { useAction } from '../api/hooks';
import { BrowseDialog } from './BrowseDialog';
import type { PathInputProps } from '../forms/widgets';
import { Button, TextField } from './ui';

/** What the app shell can do (set once by App from `app.info`). */
export const AppInfoContext = createContext<AppInfo | null>(null);

/**
 * A path on the machine running the workbench: typed, picked with "Browse…" among the folders
 * this workspace may read, or — in the desktop app — chosen with the OS file dialog ("File…" /
 * "Folder…" buttons, per `kinds`), which also grants reading it.
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
  const [browsing, setBrowsing] = useState(false);
  const pick = useAction(async (kind: 'file' | 'folder') => {
    const r = await api.call('app.pickPath', { kind, title: field.label });
    if (r.path) onPick(r.path);
  });
  return (
    <div className="path-field">
      <TextField {...field} error={field.error ?? pick.error?.message} />
      <Button onClick={() => setBrowsing(true)}>
        Browse…<span className="sr-only"> for {field.label}</span>
      </Button>
      {browsing && (
        <BrowseDialog
          label={field.label}
          kinds={kinds}
          onClose={() => setBrowsing(false)}
          onChoose={(path) => {
            setBrowsing(false);
            onPick(path);
          }}
        />
      )}
      {info?.canPickPaths &&
        kinds.map((k) => (
          <Button key={k} onClick={() => void pick.run(k)} aria-label={`Choose ${k} for ${field.label}`}>
            {k === 'file' ? 'File…' : 'Folder…'}
          </Button>
        ))}
    </div>
  );
}

/** PathField as the forms' path input (src/renderer/src/forms/widgets.tsx): typed, browsed, or picked. */
export function FormPathInput({ kind, onChange, ...field }: PathInputProps) {
  return <PathField {...field} kinds={[kind]} onPick={onChange} onChange={(e) => onChange(e.target.value)} />;
}
