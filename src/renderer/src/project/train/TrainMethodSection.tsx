/**
 * The Train form's method part, built from the training method table: the method picker (each
 * method's one line under it), what the chosen method needs — a saved selection, the LoRA mode, a
 * base model are enforced: the form says so and Start stays disabled without them — and the
 * method's own parameters.
 */
import { trainMethodNeeds, type TrainMethodRow } from '../../../../shared/train';
import { MethodDetails, MethodPicker } from '../../forms/MethodPicker';
import type { MethodChoice } from '../../forms/useMethodChoice';
import { useMethodTables } from '../../forms/widgets';

/** What else of the form a method's needs depend on: the training mode and the method's parameters as typed. */
export interface TrainFormState {
  /** lora (default) or full */
  mode?: string;
  /** null while one is invalid */
  params?: Record<string, unknown> | null;
}

/** Why the chosen method cannot start with the form as it is (null: it can). */
export function trainNeedsMissing(row: TrainMethodRow, selectionChosen: boolean, f: TrainFormState = {}): string | null {
  if (row.safety && !selectionChosen)
    return `${row.label} needs a saved selection of safety examples: choose one under Safety examples (make one in the Select tab).`;
  if (row.loraOnly && (f.mode ?? 'lora') !== 'lora') return `${row.label} works on a LoRA adapter: choose the LoRA adapter mode.`;
  if (row.baseModel && f.params && !f.params.baseModelPath) return `${row.label} needs the aligned model’s base (unaligned) model: give its path.`;
  return null;
}

export function TrainMethodSection({ choice, selectionChosen, mode }: { choice: MethodChoice<TrainMethodRow>; selectionChosen: boolean; mode?: string }) {
  const { train: methods } = useMethodTables();
  const missing = trainNeedsMissing(choice.row, selectionChosen, { mode, params: choice.form.data });
  return (
    <>
      <MethodPicker legend="Method" table={methods} value={choice.method} onChange={choice.setMethod} />
      <MethodDetails label={choice.row.label} needs={trainMethodNeeds(choice.row)} form={choice.form} />
      {missing && (
        <p className="field-error" data-testid="method-needs-missing">
          {missing}
        </p>
      )}
    </>
  );
}
