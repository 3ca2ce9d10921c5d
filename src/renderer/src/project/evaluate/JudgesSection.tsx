/**
 * The Evaluate form's judges, built from the judge table: a checklist (each judge's one line under
 * it; judges added automatically, like the task scorer, are not offered), what the chosen judges
 * need, their parameters, and — when a chosen judge needs one — the Llama Guard model picker.
 */
import type { ReactNode } from 'react';
import { judgeNeeds, type JudgeRow } from '../../../../shared/eval';
import { MethodChecklist, MethodDetails } from '../../forms/MethodPicker';
import type { MethodSetChoice } from '../../forms/useMethodChoice';
import { useMethodTables } from '../../forms/widgets';

/** Why the chosen judges cannot run with the form as it is (null: they can). */
export function judgesMissing(choice: MethodSetChoice<JudgeRow>, guardChosen: boolean): string | null {
  if (choice.chosen.length === 0) return 'Choose at least one judge.';
  const guarded = choice.rows.filter(([, row]) => row.guardModel).map(([, row]) => row.label);
  return guarded.length && !guardChosen ? `${guarded.join(' and ')} need${guarded.length === 1 ? 's' : ''} a Llama Guard 3 model: choose it below.` : null;
}

export function JudgesSection({ choice, guardPicker, guardChosen }: { choice: MethodSetChoice<JudgeRow>; guardPicker: ReactNode; guardChosen: boolean }) {
  const { judges } = useMethodTables();
  const needs = [...new Set(choice.rows.flatMap(([, row]) => judgeNeeds(row)))];
  const missing = judgesMissing(choice, guardChosen);
  return (
    <>
      <MethodChecklist legend="Judges" table={judges} hide={(row) => !!row.automaticFor} value={choice.chosen} onChange={choice.setChosen} />
      <MethodDetails label="The chosen judges" needs={needs} form={choice.form} />
      {choice.rows.some(([, row]) => row.guardModel) && guardPicker}
      {missing && (
        <p className="field-error" data-testid="judges-missing">
          {missing}
        </p>
      )}
    </>
  );
}
