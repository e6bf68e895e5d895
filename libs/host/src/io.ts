/** Where a host prints: results on out, problems and the logs of machine-readable commands on err. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}
