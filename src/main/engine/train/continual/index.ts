/**
 * Continual-learning terms for safety-preserving fine-tuning (RESEARCH.md §2), each usable alone,
 * with LoRA or full-parameter training (they work on "the trainable parameters" of either):
 * replay mixing (data), DER / DER++ and LwF (logit distillation in the training graph), EWC and L2-SP
 * (quadratic anchors, in TypeScript, on W_eff = W + scale·B·A with LoRA, on the trained weights
 * themselves in full-parameter training; both anchored to the weights as loaded), A-GEM (gradient
 * projection); SafeLoRA's post-hoc projection of a trained adapter onto the alignment subspace.
 *
 * ```ts
 * const aligned = await openModel(model);                                   // the aligned model, no adapter
 * const teacher = await recordTeacherLogits(aligned, safety, 16);           // top-16 logits + lse per position
 * const fisher = await estimateFisher(model, safety, targets.map((t) => t.weight));   // full training: trainer.trainable.map((w) => w.name)
 * const mix = mixReplay(task, safety, { ratio: 0.1, seed: 1 }).examples;   // replay / SafeInstr
 * terms: [derTerm({ buffer: safety, teacher, alpha: 0.5, beta: 0.5 })]      // DER++
 *        [lwfTerm({ teacher: await recordTeacherLogits(aligned, task, 16), weight: 1 })]
 *        [ewcTerm({ fisher, lambda: 1e3 })], [l2spTerm({ lambda: 0.1 })], [agemTerm({ reference: safety })]
 * ```
 */
export { mixReplay, type ReplayMixOptions, type ReplayMix } from './replay';
export {
  topKWithLse,
  recordTeacherLogits,
  saveTeacherLogits,
  loadTeacherLogits,
  distillFeeds,
  derTerm,
  lwfTerm,
  type TeacherLogits,
  type DerOptions,
  type LwfOptions,
} from './distill';
export { anchorPenalty, fullAnchorPenalty, ewcTerm, l2spTerm, estimateFisher, saveFisher, loadFisher } from './penalty';
export { agemProject, agemTerm, type AgemOptions } from './agem';
export { alignmentProjector, safeLoraModule, safeLoraAdapter, type SafeLoraModuleResult, type SafeLoraLayer } from './safelora';
export { lisaTerm, lisaPhase, type LisaOptions, type LisaPhase } from './lisa';
