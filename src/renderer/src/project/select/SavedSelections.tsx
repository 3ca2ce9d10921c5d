/** The project's saved selections, each openable as a preview. */
import type { Selection } from '../../../../shared/select';
import type { CallState } from '../../api/hooks';
import { Button, Card, EmptyState, ErrorBanner } from '../../components/ui';
import { useMethodTables } from '../../forms/widgets';

export function SavedSelections({ saved, onOpen }: { saved: CallState<Selection[]>; onOpen: (id: number) => void }) {
  const { select: methods } = useMethodTables();
  return (
    <Card title="Saved selections">
      <ErrorBanner error={saved.error} />
      {!saved.data || saved.data.length === 0 ? (
        <EmptyState title="No saved selections">Preview a selection above and save it under a name.</EmptyState>
      ) : (
        <table className="table" aria-label="Saved selections">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Method</th>
              <th scope="col">Examples</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {saved.data.map((s) => (
              <tr key={s.id}>
                <td>{s.name}</td>
                <td>{methods[s.method]?.label ?? s.method}</td>
                <td>{s.summary.selected}</td>
                <td className="row-actions">
                  <Button variant="ghost" onClick={() => onOpen(s.id)} aria-label={`Open ${s.name}`}>
                    Open
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
