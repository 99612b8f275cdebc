import type { ErrorBody, ErrorCode } from '@livestage/protocol';

/** An expected failure with a code from the protocol's closed set; its message reaches clients. */
export class AppError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/** Turns any thrown value into what a client may see: AppErrors as they are, the rest INTERNAL. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof AppError) return error.toBody();
  return { code: 'INTERNAL', message: 'internal server error' };
}
