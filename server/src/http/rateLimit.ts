import type { RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../errors.js';

export interface HttpRateLimit {
  /** Requests each client address may make per window. */
  points: number;
  windowSeconds: number;
}

/** Generous: an operator's script or dashboard never meets it; a credential guesser does. */
export const ADMIN_RATE_LIMIT: HttpRateLimit = { points: 600, windowSeconds: 60 };

/**
 * Per client address, in this process's memory (a cluster's nodes count separately, which for
 * an admin API is enough). Answers 429 RATE_LIMITED with Retry-After.
 */
export function rateLimitPerIp(limit: HttpRateLimit = ADMIN_RATE_LIMIT): RequestHandler {
  const limiter = new RateLimiterMemory({ points: limit.points, duration: limit.windowSeconds });
  return (req, res, next) => {
    limiter.consume(req.ip ?? 'unknown').then(
      () => next(),
      (refusal: unknown) => {
        if (!(refusal instanceof RateLimiterRes)) {
          next(refusal);
          return;
        }
        res.set('Retry-After', String(Math.max(1, Math.ceil(refusal.msBeforeNext / 1000))));
        next(new AppError('RATE_LIMITED', 'too many requests; slow down'));
      },
    );
  };
}
