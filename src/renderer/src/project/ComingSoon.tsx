import { Card } from '../components/ui';

export function ComingSoon({ title, points }: { title: string; points: string[] }) {
  return (
    <Card title={title}>
      <p className="muted">This part of the workbench is being built. It will offer:</p>
      <ul className="coming">
        {points.map((p) => (
          <li key={p}>{p}</li>
        ))}
      </ul>
    </Card>
  );
}
