/** Where a host prints: results on out, problems and the logs of machine-readable commands on err. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** The exit codes of every command: usage and config problems 2, a failed run 1, a bug 70, Ctrl-C 130. */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 70, interrupted: 130 } as const;
