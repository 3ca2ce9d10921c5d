/**
 * The curation refusal detector (src/main/detect: the shipped sequence detector over the reply's
 * head in static word vectors + phrase flags) as a judge; score = P(refusal).
 */
import { type RefusalClassifier, detectRefusals, shippedRefusalClassifier } from '../../detect/behaviour';
import type { Embedder } from '../../embed/types';
import type { Judge, JudgeInput, SuiteKind, Verdict } from '../types';
import { EMPTY_REASON, isEmpty } from './empty';
import type { JudgeFactory } from './types';

export class ClassifierRefusalJudge implements Judge {
  readonly id: string;
  readonly version: string;
  readonly kind = 'refusal' as const;
  private readonly embedder: Embedder;
  private readonly classifier: RefusalClassifier;

  constructor(embedder: Embedder, classifier: RefusalClassifier = shippedRefusalClassifier(), id = 'refusal-classifier') {
    if (classifier.file.kind !== 'refusal') throw new Error(`classifier ${classifier.file.id} is a ${classifier.file.kind} classifier, not a refusal one`);
    if (classifier.file.embedderId !== embedder.id) {
      throw new Error(`classifier ${classifier.file.id} was trained with embedder "${classifier.file.embedderId}", not "${embedder.id}"`);
    }
    this.embedder = embedder;
    this.classifier = classifier;
    this.id = id;
    this.version = `${classifier.file.id}@${classifier.file.version}|${embedder.id}|t=${classifier.file.threshold}`;
  }

  appliesTo(kind: SuiteKind): boolean {
    return kind !== 'task';
  }

  async judge(inputs: readonly JudgeInput[]): Promise<Verdict[]> {
    const base = { judgeId: this.id, judgeVersion: this.version, kind: this.kind };
    const todo = inputs.map((x, i) => [x, i] as const).filter(([x]) => !isEmpty(x.response));
    const res = todo.length
      ? await detectRefusals(
          todo.map(([x]) => x.response),
          { embedder: this.embedder, refusalClassifier: this.classifier },
        )
      : [];
    const out: Verdict[] = inputs.map(() => ({ ...base, label: 'empty', score: null, reason: EMPTY_REASON }));
    todo.forEach(([, i], k) => {
      const r = res[k]!;
      out[i] = {
        ...base,
        label: r.refusal ? 'refusal' : 'compliance',
        score: r.probability,
        reason: `P(refusal)=${r.probability.toFixed(3)} ${r.refusal ? '≥' : '<'} ${this.classifier.file.threshold}${r.rule.refusal ? `; rule: starts with "${r.rule.phrase}"` : ''}`,
      };
    });
    return out;
  }
}

export const refusalClassifier: JudgeFactory<Record<string, never>> = (deps) => new ClassifierRefusalJudge(deps.embedder!);
