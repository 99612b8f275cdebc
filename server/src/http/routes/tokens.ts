import { Router } from 'express';
import { z } from 'zod';
import { defaultGrants, grantsSchema, ROLES } from '../../auth/grants.js';
import { identitySchema, mintToken, verifyToken } from '../../auth/tokens.js';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import { requireApiKey } from '../basicAuth.js';

/** What `POST /api/tokens` takes (also its OpenAPI description). */
export const tokenRequest = z
  .object({
    room: grantsSchema.shape.room,
    identity: identitySchema,
    role: z.enum(ROLES),
    name: grantsSchema.shape.name,
    metadata: grantsSchema.shape.metadata,
    ttlSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .strict();

/** For the application's backend: mints access tokens with the role's default grants. */
export function tokenRoutes(config: Config): Router {
  const router = Router();
  router.post('/api/tokens', requireApiKey(config.auth), (req, res) => {
    const parsed = tokenRequest.safeParse(req.body);
    if (!parsed.success) {
      throw new AppError(
        'INVALID_PAYLOAD',
        'room, identity, role, name?, metadata?, ttlSeconds? (1..86400) expected',
      );
    }
    const { room, identity, role, name, metadata, ttlSeconds } = parsed.data;
    const grants = {
      ...defaultGrants(room, role),
      ...(name !== undefined ? { name } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
    };
    const token = mintToken(config.auth, {
      identity,
      grants,
      ttlSeconds: ttlSeconds ?? config.auth.defaultTtlSeconds,
    });
    // Read back from the token itself, so it is exactly the `exp` claim (seconds since the epoch).
    const { expiresAt } = verifyToken(config.auth, token);
    res.json({ token, identity, expiresAt });
  });
  return router;
}
