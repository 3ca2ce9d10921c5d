import type { JobModule } from './define';
import { dataAnalyseJob } from './types/dataAnalyse';
import { dataImportJob } from './types/dataImport';
import { dataScreenJob } from './types/dataScreen';
import { evalRunJob } from './types/evalRun';
import { mergeRunJob } from './types/mergeRun';
import { fileChecksumJob } from './types/fileChecksum';
import { generateJob } from './types/generate';
import { modelInspectJob } from './types/modelInspect';
import { modelMergeJob } from './types/modelMerge';
import { selectRunJob } from './types/selectRun';
import { trainPreflightJob } from './types/trainPreflight';
import { trainRunJob } from './types/trainRun';

/** Every built-in job type. A new job type: add its params to src/shared/jobs.ts and its module here. */
export const builtinJobModules: readonly JobModule<any, any, any>[] = [
  fileChecksumJob,
  dataImportJob,
  dataAnalyseJob,
  dataScreenJob,
  selectRunJob,
  modelInspectJob,
  generateJob,
  evalRunJob,
  trainRunJob,
  modelMergeJob,
  trainPreflightJob,
  mergeRunJob,
];
