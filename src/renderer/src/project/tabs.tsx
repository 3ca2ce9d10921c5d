import type { ComponentType } from 'react';
import type { Project } from '../../../shared/domain';
import { DataTab } from './DataTab';
import { ComingSoon } from './ComingSoon';
import { SelectTab } from './SelectTab';
import { EvaluateTab } from './EvaluateTab';
import { CompareTab } from './CompareTab';

export interface TabProps {
  project: Project;
}

/** The project tabs, in workflow order. Later features replace their ComingSoon entry. */
export const PROJECT_TABS: { id: string; label: string; Component: ComponentType<TabProps> }[] = [
  { id: 'data', label: 'Data', Component: DataTab },
  { id: 'select', label: 'Select', Component: SelectTab },
  {
    id: 'train',
    label: 'Train',
    Component: () => (
      <ComingSoon
        title="Fine-tuning with safety preservation"
        points={[
          'LoRA fine-tuning on the local engine with live loss, learning rate and tokens/s.',
          'Continual-learning terms: replay, DER / DER++, EWC, LwF, L2-SP and A-GEM.',
          'Resumable checkpoints; export the adapter (PEFT) or a merged model.',
        ]}
      />
    ),
  },
  { id: 'evaluate', label: 'Evaluate', Component: EvaluateTab },
  { id: 'compare', label: 'Compare', Component: CompareTab },
];
