import type { ErrorCode } from '@livestage/protocol';
import { AppError } from '../errors.js';

/**
 * A WHIP/WHEP refusal with the HTTP status the RFCs name (415, 412, 422…), which the protocol's
 * error codes alone do not say; headers go with it (e.g. Retry-After on 409).
 */
export class IngestError extends AppError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
    this.name = 'IngestError';
  }
}
