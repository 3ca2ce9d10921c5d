/** The behaviour types a record can have, as the record filters and the correction dialog offer them. */
export const BEHAVIOUR_OPTIONS = [
  { value: '', label: 'Any behaviour' },
  { value: 'T1', label: 'T1 harmful + refusal' },
  { value: 'T2', label: 'T2 harmful + compliance' },
  { value: 'T3', label: 'T3 benign + compliance' },
  { value: 'T4', label: 'T4 benign + refusal' },
  { value: 'untyped', label: 'Not typed yet' },
] as const;
