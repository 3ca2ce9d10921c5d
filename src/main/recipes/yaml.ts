/**
 * A small YAML writer for training recipes, exact about what PyYAML (yaml.safe_load, OmegaConf)
 * reads back: both tools load their YAML with it, and PyYAML's YAML 1.1 rules differ from JSON's
 * and from YAML 1.2 (`3e-4` is a string, `1.0e-4` a float; `yes`, `on`, `no` are booleans). So
 * floats are written with a dot and a signed exponent, fields typed float get one even when whole
 * (`3.0`), and every string that PyYAML would not read as that same string is double-quoted.
 */

/** A number the tool's schema types as float: written with a decimal point even when whole. */
export class YamlFloat {
  constructor(readonly value: number) {}
}

export const float = (value: number) => new YamlFloat(value);

export type YamlValue = string | number | boolean | null | YamlFloat | YamlValue[] | { [key: string]: YamlValue };

export interface YamlSection {
  /** Written as `### comment` above the section. */
  comment?: string;
  entries: Record<string, YamlValue>;
}

/** Plain scalars PyYAML resolves to something other than a string (booleans, nulls, numbers…). */
const YAML11_SPECIAL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|[-+]?[0-9._:]+.*|\..*)$/;
/** Strings safe to write unquoted: identifiers, module names, relative paths, Hub ids. */
const PLAIN_SAFE = /^[A-Za-z_][A-Za-z0-9_./-]*$/;

function str(s: string): string {
  return PLAIN_SAFE.test(s) && !YAML11_SPECIAL.test(s) ? s : JSON.stringify(s);
}

/** A float as PyYAML's float resolver reads it: `0.0003`, `3.0`, `1.5e-07`, `2.0e+21`. */
export function formatFloat(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`a recipe value must be a finite number, got ${x}`);
  const s = String(x);
  if (!/e/i.test(s)) return s.includes('.') ? s : `${s}.0`;
  const [m, e] = x.toExponential().split('e') as [string, string];
  return `${m.includes('.') ? m : `${m}.0`}e${/^[-+]/.test(e) ? e : `+${e}`}`;
}

function scalar(v: YamlValue): string | null {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof YamlFloat) return formatFloat(v.value);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`a recipe integer must be a whole number, got ${v} (wrap floats in float())`);
    return String(v);
  }
  if (typeof v === 'string') return str(v);
  if (Array.isArray(v) && v.length === 0) return '[]';
  if (!Array.isArray(v) && Object.keys(v).length === 0) return '{}';
  return null;
}

function block(v: YamlValue, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    return v.flatMap((item) => {
      const s = scalar(item);
      if (s !== null) return [`${pad}- ${s}`];
      const lines = block(item, indent + 2);
      return [`${pad}- ${lines[0]!.trimStart()}`, ...lines.slice(1)];
    });
  }
  return Object.entries(v as Record<string, YamlValue>).flatMap(([key, value]) => {
    const s = scalar(value);
    return s !== null ? [`${pad}${str(key)}: ${s}`] : [`${pad}${str(key)}:`, ...block(value, indent + 2)];
  });
}

/** The sections as one YAML document (a mapping), each under its `### comment`. */
export function toYaml(sections: readonly YamlSection[]): string {
  return sections.map((s) => [...(s.comment ? [`### ${s.comment}`] : []), ...block(s.entries, 0)].join('\n')).join('\n\n') + '\n';
}
