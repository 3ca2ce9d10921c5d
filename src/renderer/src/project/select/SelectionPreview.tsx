/** A selection (preview or saved): summary, histograms, its examples; save it under a name, export the training mix; once saved, a link to train with it. */
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import type { CallOutput } from '../../../../shared/contract';
import type { Selection } from '../../../../shared/select';
import { api } from '../../api/client';
import { useAction } from '../../api/hooks';
import { Badge, Button, Card, ErrorBanner, SelectField, TextField } from '../../components/ui';
import { useMethodTables } from '../../forms/widgets';
import { presetTrainSelection } from '../trainRuns';
import { Histogram } from './Histogram';
import { categoryHistogram, categorySpread } from './spread';

export type SelectionDetail = CallOutput<'select.get'>;

export function SelectionPreview({
  detail,
  taxonomy,
  categoryName,
  onSaved,
}: {
  detail: SelectionDetail;
  /** The harm category ids in taxonomy order. */
  taxonomy: readonly string[];
  categoryName: (id: string) => string;
  onSaved: (s: Selection) => void;
}) {
  const { select: methods } = useMethodTables();
  const { selection: sel, items } = detail;
  const label = methods[sel.method]?.label ?? sel.method;
  const [name, setName] = useState(sel.saved ? sel.name : `${label} ${sel.summary.selected} seed ${sel.params.seed}`);
  const [format, setFormat] = useState<'alpaca' | 'chat'>('alpaca');
  const [exported, setExported] = useState<string | null>(null);
  useEffect(() => setExported(null), [sel.id]);
  const save = useAction(async () => onSaved(await api.call('select.save', { id: sel.id, name })));
  const exp = useAction(async () => {
    const r = await api.call('select.export', { selectionId: sel.id, format });
    setExported(`${r.count} examples (${r.task} task + ${r.safety} safety) written to ${r.path}`);
  });
  const s = sel.summary;
  return (
    <Card
      title={sel.saved ? `Selection “${sel.name}”` : 'Preview'}
      actions={<Badge tone={sel.saved ? 'success' : 'info'}>{sel.saved ? 'saved' : 'not saved'}</Badge>}
    >
      <p className="stat-row" aria-label="Selection summary">
        <span>
          <strong>{s.selected}</strong> selected of budget {s.budget}
        </span>
        <span>
          {s.eligible} eligible in a pool of {s.poolSize}
        </span>
        {s.shortfall > 0 && <Badge tone="warning">{s.shortfall} short: the eligible pool is smaller than the budget</Badge>}
        <span>
          {label}, seed {sel.params.seed}
        </span>
      </p>
      <div className="two-col">
        <Histogram title="Per harm category" data={categoryHistogram(sel, taxonomy)} label={categoryName} />
        <Histogram title="Per behaviour type" data={Object.entries(s.perBehaviour).filter(([k, v]) => v > 0 || k !== 'untyped')} label={(k) => k} />
      </div>
      <SpreadTable rows={categorySpread(sel, items, taxonomy)} categoryName={categoryName} />
      <details className="preview-items">
        <summary>Selected examples ({items.length})</summary>
        <ol>
          {items.map((i) => (
            <li key={i.recordId}>
              <Badge tone="neutral">{i.behaviour ?? '—'}</Badge> {i.prompt}
              {i.takenFor && <span className="muted small"> · for {categoryName(i.takenFor)}</span>}
            </li>
          ))}
        </ol>
      </details>
      <ErrorBanner error={save.error ?? exp.error} />
      <div className="inline-form">
        <TextField label="Selection name" value={name} onChange={(e) => setName(e.target.value)} />
        <Button variant="primary" busy={save.pending} onClick={() => void save.run()} disabled={!name.trim()}>
          {sel.saved ? 'Rename' : 'Save selection'}
        </Button>
        <SelectField
          label="Export format"
          value={format}
          options={[
            { value: 'alpaca', label: 'Alpaca JSONL' },
            { value: 'chat', label: 'Chat JSONL' },
          ]}
          onChange={setFormat}
        />
        <Button busy={exp.pending} onClick={() => void exp.run()}>
          Export training mix
        </Button>
      </div>
      {exported && (
        <p className="muted" role="status">
          {exported}
        </p>
      )}
      {sel.saved && (
        <p className="next-step">
          <Link to={`/projects/${sel.projectId}/train`} onClick={() => presetTrainSelection(sel.projectId, sel.id)}>
            Next: fine-tune with “{sel.name}” →
          </Link>
        </p>
      )}
    </Card>
  );
}

/** The budget's spread against what was found, per chosen category. */
function SpreadTable({ rows, categoryName }: { rows: ReturnType<typeof categorySpread>; categoryName: (id: string) => string }) {
  const stratified = rows.some((r) => r.target !== null);
  return (
    <details className="spread" open>
      <summary>Target vs selected per harm category</summary>
      <p className="muted small">
        {stratified
          ? 'Target: the examples the budget meant for each category (0 where none is eligible). Taken for it: picked for that category; selected: every picked example carrying it, whatever it was picked for.'
          : 'This method does not spread the budget across categories: selected counts every picked example carrying each category.'}
      </p>
      <table className="table metrics" aria-label="Target vs selected per harm category">
        <thead>
          <tr>
            <th scope="col">Harm category</th>
            <th scope="col">Eligible</th>
            {stratified && <th scope="col">Target</th>}
            {stratified && <th scope="col">Taken for it</th>}
            <th scope="col">Selected</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.category} data-category={r.category} className={r.target !== null && r.takenFor < r.target ? 'short' : undefined}>
              <th scope="row">{categoryName(r.category)}</th>
              <td data-field="eligible">{r.eligible ?? '—'}</td>
              {stratified && <td data-field="target">{r.target ?? '—'}</td>}
              {stratified && <td data-field="takenFor">{r.takenFor}</td>}
              <td data-field="selected">{r.selected}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
