/**
 * The Train form's method part, built from the training method table: the method picker (each
 * method's one line under it), what the chosen method needs — a saved selection is enforced: the
 * form says so and Start stays disabled without one — and the method's own parameters.
 */
import { trainMethodNeeds, type TrainMethodRow } from '../../../../shared/train';
import { MethodDetails, MethodPicker } from '../../forms/MethodPicker';
import type { MethodChoice } from '../../forms/useMethodChoice';
import { useMethodTables } from '../../forms/widgets';

/** Why the chosen method cannot start with the form as it is (null: it can). */
export function trainNeedsMissing(row: TrainMethodRow, selectionChosen: boolean): string | null {
  return row.safety && !selectionChosen ? `${row.label} needs a saved selection of safety examples: choose one under Safety examples (make one in the Select tab).` : null;
}

export function TrainMethodSection({ choice, selectionChosen }: { choice: MethodChoice<TrainMethodRow>; selectionChosen: boolean }) {
  const { train: methods } = useMethodTables();
  const missing = trainNeedsMissing(choice.row, selectionChosen);
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
