import { useState } from 'react';
import type { Dataset } from '../../../../shared/data';
import { useCall } from '../../api/hooks';
import { CATEGORICAL, NO_DATA, categorical } from '../../charts/palette';
import { Card, ErrorBanner, SelectField, Spinner } from '../../components/ui';

/** Behaviour types in Okabe–Ito colours (see charts/palette.ts): green, vermillion, blue, orange. */
const BEHAVIOUR_COLOURS: Record<string, string> = { T1: CATEGORICAL[2], T2: CATEGORICAL[5], T3: CATEGORICAL[4], T4: CATEGORICAL[0], untyped: NO_DATA };
const NO_CATEGORY = 'no category';
const W = 640;
const H = 400;
const PAD = 12;

/**
 * The embedding map: a data set's prompts in 2-D, coloured by harm category or behaviour type in a
 * colour-blind-safe palette; clicking a legend entry hides or shows its points.
 */
export function EmbeddingMap({ datasets, categories }: { datasets: Dataset[]; categories: { id: string; name: string }[] }) {
  const [datasetId, setDatasetId] = useState(String(datasets[0]!.id));
  const [colourBy, setColourBy] = useState<'category' | 'behaviour'>('category');
  const [hover, setHover] = useState<{ text: string; label: string } | null>(null);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const toggle = (key: string) =>
    setHidden((h) => {
      const next = new Set(h);
      if (!next.delete(key)) next.add(key);
      return next;
    });
  const map = useCall('data.embeddingMap', { datasetId: Number(datasetId) }, [datasetId]);
  const catIndex = new Map(categories.map((c, i) => [c.id, i]));
  const catName = (id: string) => categories.find((c) => c.id === id)?.name ?? id;

  let body = null;
  if (map.loading && !map.data) body = <Spinner label="Projecting embeddings" />;
  else if (map.data) {
    const pts = map.data.points;
    const xs = pts.map((p) => p.x);
    const ys = pts.map((p) => p.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * PAD);
    const sy = (y: number) => H - PAD - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * PAD);
    // A point's legend entry: its behaviour type, or its first harm category (by id).
    const key = (p: (typeof pts)[number]) => (colourBy === 'behaviour' ? (p.behaviour ?? 'untyped') : (p.categories[0] ?? NO_CATEGORY));
    const colour = (p: (typeof pts)[number]) => {
      const k = key(p);
      return colourBy === 'behaviour' ? BEHAVIOUR_COLOURS[k]! : k === NO_CATEGORY ? NO_DATA : categorical(catIndex.get(k) ?? CATEGORICAL.length - 1);
    };
    const label = (p: (typeof pts)[number]) =>
      colourBy === 'behaviour' ? (p.behaviour ?? 'untyped') : p.categories.length ? p.categories.map(catName).join(', ') : NO_CATEGORY;
    const legend: { key: string; name: string; colour: string }[] =
      colourBy === 'behaviour'
        ? Object.entries(BEHAVIOUR_COLOURS).map(([k, c]) => ({ key: k, name: k, colour: c }))
        : [...categories.map((c, i) => ({ key: c.id, name: c.name, colour: categorical(i) })), { key: NO_CATEGORY, name: NO_CATEGORY, colour: NO_DATA }];
    const visible = pts.filter((p) => !hidden.has(key(p)));
    body = (
      <>
        <p className="muted small">
          {pts.length.toLocaleString()} of {map.data.total.toLocaleString()} prompts
          {visible.length < pts.length ? ` (${(pts.length - visible.length).toLocaleString()} hidden)` : ''} · PCA of {map.data.embedder} · explained variance{' '}
          {(100 * map.data.explained[0]).toFixed(1)}% + {(100 * map.data.explained[1]).toFixed(1)}%
        </p>
        <div className="map-wrap">
          <svg
            viewBox={`0 0 ${W} ${H}`}
            className="embedding-map"
            role="img"
            aria-label={`Embedding map coloured by ${colourBy}`}
            onMouseLeave={() => setHover(null)}
          >
            {visible.map((p) => (
              <circle
                key={p.id}
                cx={sx(p.x)}
                cy={sy(p.y)}
                r={3}
                fill={colour(p)}
                fillOpacity={0.75}
                data-record-id={p.id}
                onMouseEnter={() => setHover({ text: p.text, label: label(p) })}
              >
                <title>{`${label(p)}: ${p.text}`}</title>
              </circle>
            ))}
          </svg>
          <ul className="legend" aria-label="Legend: click an entry to hide or show its points">
            {legend.map((l) => (
              <li key={l.key}>
                <button
                  type="button"
                  className="legend-entry"
                  data-colour={l.colour}
                  aria-pressed={!hidden.has(l.key)}
                  onClick={() => toggle(l.key)}
                  title={hidden.has(l.key) ? 'Show these points' : 'Hide these points'}
                >
                  <span className="swatch" style={{ background: l.colour }} /> {l.name}
                </button>
              </li>
            ))}
          </ul>
        </div>
        <div className="map-hover" aria-live="polite">
          {hover ? (
            <>
              <strong>{hover.label}</strong>: {hover.text}
            </>
          ) : (
            <span className="muted">Hover a point to read its prompt.</span>
          )}
        </div>
      </>
    );
  }
  return (
    <Card title="Embedding map">
      <div className="filters">
        <SelectField label="Data set" value={datasetId} options={datasets.map((d) => ({ value: String(d.id), label: d.name }))} onChange={setDatasetId} />
        <SelectField
          label="Colour by"
          value={colourBy}
          options={[
            { value: 'category', label: 'harm category' },
            { value: 'behaviour', label: 'behaviour type' },
          ]}
          onChange={(v) => {
            setColourBy(v);
            setHidden(new Set());
          }}
        />
      </div>
      <ErrorBanner error={map.error} />
      {body}
    </Card>
  );
}
