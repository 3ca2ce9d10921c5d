/** The rows an import rejected, with their file, line and reason. */
import type { Dataset } from '../../../../shared/data';
import { useCall } from '../../api/hooks';
import { Button, Dialog, ErrorBanner } from '../../components/ui';

export function RejectionsDialog({ dataset, onClose }: { dataset: Dataset; onClose: () => void }) {
  const { data, error } = useCall('data.rejections', { datasetId: dataset.id, limit: 500 }, [dataset.id]);
  return (
    <Dialog open title={`Rejected rows of ${dataset.name}`} onClose={onClose} footer={<Button onClick={onClose}>Close</Button>}>
      <ErrorBanner error={error} />
      {data && (
        <>
          <p className="muted">
            {data.total} row{data.total === 1 ? '' : 's'} could not be imported{data.total > data.rows.length ? ` (first ${data.rows.length} shown)` : ''}.
          </p>
          <ul className="rejections">
            {data.rows.map((r) => (
              <li key={r.sourceRow}>
                <code>{r.message}</code>
              </li>
            ))}
          </ul>
        </>
      )}
    </Dialog>
  );
}
