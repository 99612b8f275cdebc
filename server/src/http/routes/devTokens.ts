import { Router } from 'express';
import { z } from 'zod';
import { defaultGrants, ROLES } from '../../auth/grants.js';
import { identitySchema } from '@livestage/protocol';
import { mintToken } from '../../auth/tokens.js';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';

const devTokenQuery = z.object({
  room: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\w.-]+$/),
  identity: identitySchema.optional(),
  role: z.enum(ROLES).default('audience'),
  name: z.string().max(128).optional(),
});

/** Development only (off in production): lets the example pages get a token without a backend. */
export function devTokenRoutes(config: Config): Router {
  const router = Router();
  router.get('/api/dev/token', (req, res) => {
    const parsed = devTokenQuery.safeParse(req.query);
    if (!parsed.success)
      throw new AppError('INVALID_PAYLOAD', 'room, identity?, role?, name? expected');
    const { room, role, name } = parsed.data;
    const identity = parsed.data.identity ?? `${role}-${Math.random().toString(36).slice(2, 10)}`;
    const grants = { ...defaultGrants(room, role), ...(name ? { name } : {}) };
    const token = mintToken(config.auth, {
      identity,
      grants,
      ttlSeconds: config.auth.defaultTtlSeconds,
    });
    res.json({ token, identity });
  });
  return router;
}
