import { useEffect, useRef, useState, type ReactNode } from 'react';

export interface Column<T> {
  key: string;
  header: string;
  width: string;
  render: (row: T) => ReactNode;
}

/**
 * A windowed table for large record sets: renders only the visible rows and loads pages on demand
 * through `loadPage`. Rows have a fixed height; the header stays put.
 */
export function VirtualTable<T extends { id: number }>({
  columns,
  total,
  loadPage,
  pageSize = 200,
  rowHeight = 36,
  height = 420,
  label,
  resetKey,
  onRowClick,
}: {
  columns: Column<T>[];
  total: number;
  loadPage: (offset: number, limit: number) => Promise<T[]>;
  pageSize?: number;
  rowHeight?: number;
  height?: number;
  label: string;
  resetKey: string;
  onRowClick?: (row: T) => void;
}) {
  const [scrollTop, setScrollTop] = useState(0);
  const [pages, setPages] = useState<Map<number, T[]>>(new Map());
  const loading = useRef(new Set<number>());
  const scroller = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setPages(new Map());
    loading.current.clear();
    setScrollTop(0);
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [resetKey]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - 5);
  const last = Math.min(total, Math.ceil((scrollTop + height) / rowHeight) + 5);
  useEffect(() => {
    for (let p = Math.floor(first / pageSize); p * pageSize < last; p++) {
      if (pages.has(p) || loading.current.has(p)) continue;
      loading.current.add(p);
      const key = resetKey;
      void loadPage(p * pageSize, pageSize).then((rows) => {
        if (key !== resetKey) return;
        setPages((m) => new Map(m).set(p, rows));
      });
    }
  }, [first, last, pageSize, pages, loadPage, resetKey]);

  const template = columns.map((c) => c.width).join(' ');
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const row = pages.get(Math.floor(i / pageSize))?.[i % pageSize];
    rows.push(
      <div
        key={i}
        role="row"
        aria-rowindex={i + 2}
        className={`vt-row${onRowClick && row ? ' vt-clickable' : ''}`}
        style={{ top: i * rowHeight, height: rowHeight, gridTemplateColumns: template }}
        onClick={row && onRowClick ? () => onRowClick(row) : undefined}
        onKeyDown={row && onRowClick ? (e) => e.key === 'Enter' && onRowClick(row) : undefined}
        tabIndex={onRowClick && row ? 0 : undefined}
      >
        {columns.map((c) => (
          <div key={c.key} role="cell" className="vt-cell">
            {row ? c.render(row) : <span className="muted">…</span>}
          </div>
        ))}
      </div>,
    );
  }
  return (
    <div role="table" aria-label={label} aria-rowcount={total + 1} className="vt">
      <div role="row" aria-rowindex={1} className="vt-header" style={{ gridTemplateColumns: template }}>
        {columns.map((c) => (
          <div key={c.key} role="columnheader" className="vt-cell">
            {c.header}
          </div>
        ))}
      </div>
      <div ref={scroller} className="vt-body" style={{ height }} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        <div style={{ height: total * rowHeight, position: 'relative' }}>{rows}</div>
      </div>
    </div>
  );
}
