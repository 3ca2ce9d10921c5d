import type { ComponentType } from 'react';
import { CompareTab } from './compare/CompareTab';
import { DataTab } from './data/DataTab';
import { EvaluateTab } from './evaluate/EvaluateTab';
import { MergeTab } from './merge/MergeTab';
import { SelectTab } from './select/SelectTab';
import { TrainTab } from './train/TrainTab';
import type { TabProps } from './types';

export type { TabProps } from './types';

/** The project tabs, in workflow order (each a folder of small components; their props type lives in ./types). */
export const PROJECT_TABS: { id: string; label: string; Component: ComponentType<TabProps> }[] = [
  { id: 'data', label: 'Data', Component: DataTab },
  { id: 'select', label: 'Select', Component: SelectTab },
  { id: 'train', label: 'Train', Component: TrainTab },
  { id: 'merge', label: 'Merge', Component: MergeTab },
  { id: 'evaluate', label: 'Evaluate', Component: EvaluateTab },
  { id: 'compare', label: 'Compare', Component: CompareTab },
];
