// Error codes and the ack envelope. Kept apart from the rest so that a bundle needing
// ERROR_CODES at run time (the SDK) pulls in nothing else.

export const ERROR_CODES = [
  'UNAUTHORIZED',
  'FORBIDDEN',
  'INVALID_PAYLOAD',
  'NOT_FOUND',
  'INVALID_STATE',
  'ROOM_FULL',
  'STAGE_FULL',
  'LIMIT_EXCEEDED',
  'RATE_LIMITED',
  'UNSUPPORTED',
  'TIMEOUT',
  /** The server is draining (shutting down) and takes no new rooms or joins. */
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /**
   * In a cluster: the URL of a node that can take this client instead (a node over its budget
   * or draining refuses with UNAVAILABLE and names one).
   */
  node?: string;
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
export type AckCallback<T> = (response: Ack<T>) => void;
