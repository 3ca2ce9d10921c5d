import { useState } from 'react';
import type { Dataset } from '../../../../shared/data';
import { useCall } from '../../api/hooks';
import { Card, ErrorBanner, SelectField, Spinner } from '../../components/ui';

const PALETTE = ['#2457c5', '#d9480f', '#2b8a3e', '#ae3ec9', '#e8590c', '#1098ad', '#c2255c', '#5c940d', '#7048e8', '#f08c00', '#0b7285', '#862e9c', '#a61e4d', '#495057'];
const BEHAVIOUR_COLOURS: Record<string, string> = { T1: '#2b8a3e', T2: '#c92a2a', T3: '#2457c5', T4: '#f08c00', untyped: '#adb5bd' };
const W = 640;
const H = 400;
const PAD = 12;

/** The embedding map: a data set's prompts in 2-D, coloured by harm category or behaviour type. */
export function EmbeddingMap({ datasets, categories }: { datasets: Dataset[]; categories: { id: string; name: string }[] }) {
  const [datasetId, setDatasetId] = useState(String(datasets[0]!.id));
  const [colourBy, setColourBy] = useState<'category' | 'behaviour'>('category');
  const [hover, setHover] = useState<{ text: string; label: string } | null>(null);
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
    const colour = (p: (typeof pts)[number]) =>
      colourBy === 'behaviour'
        ? BEHAVIOUR_COLOURS[p.behaviour ?? 'untyped']!
        : p.categories[0] !== undefined
          ? PALETTE[(catIndex.get(p.categories[0]) ?? 13) % PALETTE.length]!
          : '#adb5bd';
    const label = (p: (typeof pts)[number]) =>
      colourBy === 'behaviour' ? (p.behaviour ?? 'untyped') : p.categories.length ? p.categories.map(catName).join(', ') : 'no category';
    const legend: [string, string][] =
      colourBy === 'behaviour'
        ? Object.entries(BEHAVIOUR_COLOURS)
        : [...categories.map((c, i) => [c.name, PALETTE[i % PALETTE.length]!] as [string, string]), ['no category', '#adb5bd']];
    body = (
      <>
        <p className="muted small">
          {pts.length.toLocaleString()} of {map.data.total.toLocaleString()} prompts · PCA of {map.data.embedder} · explained variance{' '}
          {(100 * map.data.explained[0]).toFixed(1)}% + {(100 * map.data.explained[1]).toFixed(1)}%
        </p>
        <div className="map-wrap">
          <svg viewBox={`0 0 ${W} ${H}`} className="embedding-map" role="img" aria-label={`Embedding map coloured by ${colourBy}`} onMouseLeave={() => setHover(null)}>
            {pts.map((p) => (
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
          <ul className="legend">
            {legend.map(([name, c]) => (
              <li key={name}>
                <span className="swatch" style={{ background: c }} /> {name}
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
          onChange={setColourBy}
        />
      </div>
      <ErrorBanner error={map.error} />
      {body}
    </Card>
  );
}
