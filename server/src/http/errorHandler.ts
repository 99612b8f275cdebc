import type { ErrorRequestHandler } from 'express';
import type { ErrorCode } from '@livestage/protocol';
import { AppError, toErrorBody } from '../errors.js';
import type { Logger } from '../logging/logger.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  INVALID_PAYLOAD: 400,
  NOT_FOUND: 404,
  INVALID_STATE: 409,
  ROOM_FULL: 409,
  STAGE_FULL: 409,
  LIMIT_EXCEEDED: 429,
  RATE_LIMITED: 429,
  UNSUPPORTED: 400,
  TIMEOUT: 504,
  UNAVAILABLE: 503,
};

/** The HTTP status an error code answers with (500 for unexpected ones). */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** Every failure answers `{ error: { code, message } }`; unexpected ones are logged, not shown. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const isSyntaxError = error instanceof SyntaxError && 'body' in error;
    const known = isSyntaxError ? new AppError('INVALID_PAYLOAD', 'malformed JSON body') : error;
    if (!(known instanceof AppError)) log.error('http request failed', { error: String(error) });
    const body = toErrorBody(known);
    res.status(httpStatusOf(body.code)).json({ error: body });
  };
}
