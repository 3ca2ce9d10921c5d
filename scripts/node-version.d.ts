/** Types of node-version.js (plain JavaScript: it must run on any Node to say which one is needed). */
export function requiredNodeVersion(packageJsonPath: string): [number, number, number];
export function nodeVersionProblem(packageJsonPath: string, version?: string): string | null;
export function exitCodeOf(code: number | null, signal: string | null, signals: Record<string, number>): number;
