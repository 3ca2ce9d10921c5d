/** Export the Merge tab's form as mergekit YAML, and import a YAML into the form (its errors name the line and field). */
import { useRef } from 'react';
import type { MergeConfig } from '../../../../shared/merge';
import { api } from '../../api/client';
import { useAction } from '../../api/hooks';
import { Button, ErrorBanner } from '../../components/ui';
import { download } from '../compare/download';
import { stateFromConfig, type MergeFormState } from './mergeForm';

export function MergeYaml({ state, config, onImport }: { state: MergeFormState; config: MergeConfig | null; onImport: (s: MergeFormState) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const exportYaml = useAction(async () => {
    const { yaml } = await api.call('merge.toYaml', { config: config! });
    download(`${state.method}-merge.yml`, new Blob([yaml], { type: 'application/yaml' }));
  });
  const importYaml = useAction(async (file: File) => {
    const config = await api.call('merge.fromYaml', { yaml: await file.text(), file: file.name });
    onImport(stateFromConfig(config, state));
  });
  return (
    <div className="merge-yaml">
      <Button
        variant="ghost"
        disabled={!config}
        onClick={() => void exportYaml.run()}
        title={config ? 'Download the mergekit YAML of this merge' : 'Complete the form first'}
      >
        Export YAML
      </Button>
      <Button variant="ghost" onClick={() => input.current?.click()}>
        Import YAML
      </Button>
      <input
        ref={input}
        type="file"
        accept=".yml,.yaml,text/yaml"
        hidden
        aria-label="mergekit YAML to import"
        onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = '';
          if (f) void importYaml.run(f);
        }}
      />
      <ErrorBanner error={exportYaml.error ?? importYaml.error} />
    </div>
  );
}
