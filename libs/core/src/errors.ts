/**
 * The three kinds of failure the CLI tells apart (it alone maps them to exit codes):
 * - ConfigError: the user can fix the input (config, usage, missing or corrupt data); exit 2.
 * - RunError: the run itself failed (NaN loss, unmet expectation); exit 1.
 * - anything else is an internal error: a bug in this project; exit 70.
 */

/** Where a problem is in a source file. Lines and columns are 1-based. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

export interface Diagnostic {
  /** The file the problem is in; for problems not tied to a file, a label such as `--set`. */
  file: string;
  line: number;
  col: number;
  /** Dotted path into the document (`optimizer.learningRate`), empty for the document itself. */
  path: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}`;
  return d.path === '' ? `${where}: ${d.message}` : `${where}: ${d.path}: ${d.message}`;
}

export class ConfigError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[] | string) {
    const list =
      typeof diagnostics === 'string'
        ? [{ file: '', line: 0, col: 0, path: '', message: diagnostics }]
        : diagnostics;
    super(list.map(formatConfigProblem).join('\n'));
    this.name = 'ConfigError';
    this.diagnostics = list;
  }
}

function formatConfigProblem(d: Diagnostic): string {
  return d.file === '' ? (d.path === '' ? d.message : `${d.path}: ${d.message}`) : formatDiagnostic(d);
}

/** A problem with input data found before training (missing file, corrupt IDX/TFRecord). */
export class DataError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

export class RunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunError';
  }
}
