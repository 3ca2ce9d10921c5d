/** What a finished import says in the Data tab. */
import { DATASET_ROLE_LABELS, type DataImportParams, type DataImportResult } from '../../../../shared/data';
import { fileName } from '../../../../shared/naming';

/** What a finished import says: how many records it added, or that the file was already imported (as the CLI says it). */
export function importNotice(p: DataImportParams, r: DataImportResult): string {
  const role = DATASET_ROLE_LABELS[p.role].toLowerCase();
  if (r.alreadyImported)
    return `${fileName(p.path)} was already imported as ${role} (data set #${r.datasetId}, ${r.accepted.toLocaleString('en-US')} records): nothing to do.`;
  return `Imported ${fileName(p.path)} as ${role}: ${r.accepted.toLocaleString('en-US')} records${r.rejected ? `, ${r.rejected} rows rejected` : ''}.`;
}
