/** What every project tab is given (its own module, so tabs.tsx and the tabs do not import each other). */
import type { Project } from '../../../shared/domain';

export interface TabProps {
  project: Project;
}
