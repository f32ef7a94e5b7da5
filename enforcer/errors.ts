// Base of every typed error syngate throws at its edges (config, files, CLI).
// Invariant: `code` is stable, upper-snake, prefixed SYNGATE_<DOMAIN>_, and documented in docs/errors.md
// (test/errors.test.ts enforces this). The hot path never throws: it returns numeric Reason codes.

export class SyngateError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'SyngateError';
  }
}

/** Returns true iff `e` is a SyngateError carrying `code` (or any code when omitted). */
export function isSyngateError(e: unknown, code?: string): e is SyngateError {
  return e instanceof SyngateError && (code === undefined || e.code === code);
}
