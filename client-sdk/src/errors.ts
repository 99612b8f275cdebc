import type { ErrorBody, ErrorCode } from './protocol.js';

/** Every failure the SDK reports: a code from the protocol's closed set and a message. */
export class LiveStageError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'LiveStageError';
    this.code = code;
  }

  static from(body: ErrorBody): LiveStageError {
    return new LiveStageError(body.code, body.message);
  }
}

/** The error is a LiveStageError with this code. */
export function isCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof LiveStageError && error.code === code;
}
