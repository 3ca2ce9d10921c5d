/** A horizontal bar histogram (selected examples per harm category, per behaviour type). */
export function Histogram({ title, data, label }: { title: string; data: [string, number][]; label: (k: string) => string }) {
  const max = Math.max(1, ...data.map(([, v]) => v));
  return (
    <figure className="histogram" aria-label={title}>
      <figcaption>{title}</figcaption>
      <ul>
        {data.map(([k, v]) => (
          <li key={k} data-key={k} data-count={v}>
            <span className="hist-label" title={label(k)}>
              {label(k)}
            </span>
            <span className="hist-bar">
              <span className="hist-fill" style={{ width: `${(100 * v) / max}%` }} />
            </span>
            <span className="hist-value">{v}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}
