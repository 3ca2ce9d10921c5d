import type { ComponentType } from 'react';
import type { Project } from '../../../shared/domain';
import { DataTab } from './DataTab';
import { ComingSoon } from './ComingSoon';
import { SelectTab } from './SelectTab';

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
  {
    id: 'evaluate',
    label: 'Evaluate',
    Component: () => (
      <ComingSoon
        title="Safety and utility evaluation"
        points={[
          'Refusal and attack-success rates per harm category with 95% intervals.',
          'Over-refusal on XSTest, task accuracy (GSM8K, SST-2, your own suites).',
          'A per-example inspector where you can correct any verdict.',
        ]}
      />
    ),
  },
  {
    id: 'compare',
    label: 'Compare',
    Component: () => (
      <ComingSoon
        title="Compare runs"
        points={['Safety vs over-refusal vs utility across runs, as a table and a scatter.', 'Export as CSV, PNG or SVG.']}
      />
    ),
  },
];
