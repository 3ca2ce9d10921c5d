/**
 * The Train form's mode part, built from the mode table (src/shared/train.ts TRAIN_MODES): LoRA
 * adapter or full-parameter training, each with its one line, and the chosen mode's own settings
 * (the LoRA adapter's shape, or the weights full training trains) as schema fields.
 */
import { TRAIN_MODES } from '../../../../shared/train';
import { MethodDetails, MethodPicker } from '../../forms/MethodPicker';
import type { MethodChoice } from '../../forms/useMethodChoice';
import type { MethodRow } from '../../../../shared/methods/table';

export function TrainModeSection({ choice }: { choice: MethodChoice<MethodRow> }) {
  return (
    <div data-testid="train-mode">
      <MethodPicker legend="Training mode" table={TRAIN_MODES} value={choice.method} onChange={choice.setMethod} />
      <MethodDetails label={choice.row.label} needs={[]} form={choice.form} />
    </div>
  );
}
