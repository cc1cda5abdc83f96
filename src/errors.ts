// Errors are values with a kind; the CLI maps kinds to exit codes and prints `message` as one line.

export type ErrorKind =
  | 'usage' // wrong flags or arguments
  | 'input' // bad local input: missing/empty/unreadable file, a directory
  | 'auth' // the API refused the token or permission
  | 'network' // could not connect, reset, timed out
  | 'server' // the server answered with an error or nonsense
  | 'integrity' // bytes or layout do not add up
  | 'conflict' // the destination exists and the strategy says deny
  | 'state' // resumable state problems: locked, corrupt
  | 'interrupted'; // Ctrl-C / SIGTERM

export const EXIT_CODES: Record<ErrorKind, number> = {
  usage: 2,
  input: 2,
  auth: 3,
  network: 1,
  server: 1,
  integrity: 1,
  conflict: 1,
  state: 1,
  interrupted: 130,
};

export interface LakeupErrorOptions {
  status?: number; // HTTP status when the error is an HTTP answer
  code?: string; // machine code from the server (error_code, code, S3 <Code>)
  retryAfterMs?: number; // from Retry-After
  detail?: string; // extra context for --verbose
  cause?: unknown;
}

export class LakeupError extends Error {
  readonly kind: ErrorKind;
  readonly status?: number;
  readonly code?: string;
  readonly retryAfterMs?: number;
  readonly detail?: string;

  constructor(kind: ErrorKind, message: string, opts: LakeupErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LakeupError';
    this.kind = kind;
    this.status = opts.status;
    this.code = opts.code;
    this.retryAfterMs = opts.retryAfterMs;
    this.detail = opts.detail;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export function isLakeupError(e: unknown): e is LakeupError {
  return e instanceof LakeupError;
}

/** Turns anything thrown into a LakeupError without losing what it said. */
export function toLakeupError(e: unknown): LakeupError {
  if (e instanceof LakeupError) return e;
  const err = e as NodeJS.ErrnoException | undefined;
  const msg = err && typeof err.message === 'string' ? err.message : String(e);
  return new LakeupError('server', msg, { cause: e });
}
