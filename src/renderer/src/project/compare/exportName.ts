/** File names for the Compare tab's exports that say what they hold: project, content, date. */

/** "Alpha safety / v2" → "alpha-safety-v2" (at most 40 characters; "project" when nothing is left). */
export function slug(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return s || 'project';
}

/** The local calendar date, YYYY-MM-DD. */
export function isoDate(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** "safetune-alpha-safety-attack-success-vs-over-refusal-2026-12-04.svg" */
export function exportFileName(projectName: string, what: string, ext: string, date = new Date()): string {
  return `safetune-${slug(projectName)}-${slug(what)}-${isoDate(date)}.${ext}`;
}
