import type { ComponentType } from 'react';
import type { Project } from '../../../shared/domain';
import { DataTab } from './DataTab';
import { SelectTab } from './SelectTab';
import { EvaluateTab } from './EvaluateTab';
import { CompareTab } from './CompareTab';
import { TrainTab } from './TrainTab';

export interface TabProps {
  project: Project;
}

/** The project tabs, in workflow order. */
export const PROJECT_TABS: { id: string; label: string; Component: ComponentType<TabProps> }[] = [
  { id: 'data', label: 'Data', Component: DataTab },
  { id: 'select', label: 'Select', Component: SelectTab },
  { id: 'train', label: 'Train', Component: TrainTab },
  { id: 'evaluate', label: 'Evaluate', Component: EvaluateTab },
  { id: 'compare', label: 'Compare', Component: CompareTab },
];
