/**
 * Which of the workbench's training methods a distributed trainer can run. Both tools run plain
 * LoRA and replay (the safety selection mixed into the training data, the SafeInstr recipe); none
 * of the continual-learning terms (DER, DER++, LwF, EWC, L2-SP, A-GEM). A run with one of those is
 * refused, or — acknowledged — exported as replay (methods whose row says they use the safety
 * selection, when there is one) or plain LoRA.
 */
import { AppError } from '../../shared/errors';
import { RECIPE_METHOD_GAPS, RECIPE_TOOL_LABELS, type RecipeMethod, type RecipeTool } from '../../shared/recipes';
import { trainMethodRow, type TrainMethod } from '../../shared/train';

export interface ResolvedMethod {
  method: RecipeMethod;
  downgraded: boolean;
  /** Said in the result and the README when the method changed. */
  note: string | null;
}

/**
 * What a method becomes when the tool lacks it: replay when its row says it uses the safety
 * selection (in its own term) and there is one, else plain.
 */
export function fallbackMethod(requested: TrainMethod, hasSelection: boolean): RecipeMethod {
  return trainMethodRow(requested).safety !== undefined && hasSelection ? 'replay' : 'plain';
}

export function resolveMethod(tool: RecipeTool, requested: TrainMethod, hasSelection: boolean, allowDowngrade: boolean): ResolvedMethod {
  const gap = RECIPE_METHOD_GAPS[tool][requested];
  if (gap === null) return { method: requested as RecipeMethod, downgraded: false, note: null };
  const fallback = fallbackMethod(requested, hasSelection);
  const as = fallback === 'replay' ? 'replay (the safety selection mixed into the training data)' : 'plain LoRA fine-tuning';
  if (!allowDowngrade) {
    throw new AppError(
      'unsupported',
      `${gap}, so a ${RECIPE_TOOL_LABELS[tool]} recipe cannot run ${requested}. Train it in the workbench, or export it as ${as} with --allow-method-downgrade (allowMethodDowngrade: true).`,
      { tool, method: requested, fallback },
    );
  }
  return {
    method: fallback,
    downgraded: true,
    note: `Requested ${requested}, exported as ${as}: ${gap}. Its safety results are those of ${fallback}, not of ${requested}.`,
  };
}
