/**
 * The Select form's method part, built from the selection method table: the method picker (each
 * method's one line under it), what the chosen method needs, its own parameters, and the inputs
 * its needs call for — a reference to score against, a sentence encoder for the embeddings.
 */
import { useContext } from 'react';
import { selectionMethodNeeds, type SelectionMethodRow } from '../../../../shared/select';
import { SelectField } from '../../components/ui';
import { MethodDetails, MethodPicker } from '../../forms/MethodPicker';
import type { MethodChoice } from '../../forms/useMethodChoice';
import { PathInputContext, useMethodTables } from '../../forms/widgets';

/** What the needs of the chosen method are answered with (kept with the form). */
export interface SelectNeedsInput {
  cossimReference: 'categories' | 'task';
  referenceDir: string;
  embedderPath: string;
}

export function SelectMethodSection({
  choice,
  needs,
  onNeeds,
}: {
  choice: MethodChoice<SelectionMethodRow>;
  needs: SelectNeedsInput;
  onNeeds: (change: Partial<SelectNeedsInput>) => void;
}) {
  const { select: methods } = useMethodTables();
  const PathInput = useContext(PathInputContext);
  const { row } = choice;
  return (
    <>
      <MethodPicker legend="Method" table={methods} value={choice.method} onChange={choice.setMethod} />
      <MethodDetails label={row.label} needs={selectionMethodNeeds(row)} form={choice.form}>
        {row.usesReference && (
          <SelectField
            label="Similar to"
            value={needs.cossimReference}
            options={[
              { value: 'categories', label: 'reference prompts per category' },
              { value: 'task', label: 'my task data' },
            ]}
            onChange={(v) => onNeeds({ cossimReference: v })}
          />
        )}
      </MethodDetails>
      {row.usesReference && needs.cossimReference === 'categories' && (
        <PathInput
          kind="folder"
          label="Reference prompts folder"
          value={needs.referenceDir}
          onChange={(v) => onNeeds({ referenceDir: v })}
          placeholder="/data/beavertails-unsafe-prompts"
          hint="Empty: the shipped per-category centroids (built-in word vectors only)."
        />
      )}
      {row.usesEmbeddings && (
        <PathInput
          kind="folder"
          label="Sentence encoder folder (optional)"
          value={needs.embedderPath}
          onChange={(v) => onNeeds({ embedderPath: v })}
          placeholder="/models/all-MiniLM-L6-v2-onnx"
          hint="A sentence-transformers ONNX folder; empty: the built-in word vectors."
        />
      )}
    </>
  );
}
