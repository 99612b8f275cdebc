import type { Router } from 'express';
import { z } from 'zod';
import packageJson from '../../../package.json' with { type: 'json' };
import type { TokenRevocations } from '../../auth/TokenRevocations.js';
import type { Config } from '../../config/config.js';
import type { EgressService } from '../../egress/EgressService.js';
import { AppError } from '../../errors.js';
import type { RoomRegistry } from '../../rooms/RoomRegistry.js';
import { openApiDocument } from '../openapi.js';
import { rateLimitPerIp, type HttpRateLimit } from '../rateLimit.js';
import { EXTERNALLY_REGISTERED_ROUTES } from '../routeCatalog.js';
import { defineRoute, mountRoutes, type RouteSpec } from '../routeTable.js';
import { chatRoutes } from './chat.js';
import { egressRoutes } from './egress.js';
import { roomRoutes } from './rooms.js';

export interface AdminApiDeps {
  config: Config;
  rooms: RoomRegistry;
  /** Where revoked tokens are kept; without it revocation answers 503 UNAVAILABLE. */
  revocations?: TokenRevocations;
  rateLimit?: HttpRateLimit;
  /** HLS, recordings and snapshots; without it their routes are not served. */
  egress?: EgressService;
}

function tokenRoutes(revocations: TokenRevocations | undefined): RouteSpec[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/tokens/revoke',
      tag: 'tokens',
      auth: 'apiKey',
      summary: 'Revokes a token by its id (`jti`): refused at connect until it expires',
      description:
        'A participant already connected with it stays (remove it to end its session). Kept in ' +
        "this node's memory: in a cluster, revoke on every node.",
      body: z.object({ jti: z.string().min(1).max(128) }).strict(),
      responses: {
        200: {
          description: 'revoked',
          schema: z.object({ jti: z.string(), revoked: z.literal(true) }),
        },
      },
      handle: ({ body }) => {
        if (!revocations) throw new AppError('UNAVAILABLE', 'token revocation is not set up');
        revocations.revoke(body.jti);
        return { jti: body.jti, revoked: true };
      },
    }),
  ];
}

/**
 * The admin API (rooms, participants, stage, token revocation) and its OpenAPI 3.1 document at
 * `GET /api/openapi.json`, both from one route table; the document also describes the routes
 * other modules register (routeCatalog.ts).
 */
export function adminApi({ config, rooms, revocations, rateLimit, egress }: AdminApiDeps): Router {
  const served: RouteSpec[] = [
    ...roomRoutes({ rooms, revocations }),
    ...chatRoutes({ rooms }),
    ...tokenRoutes(revocations),
    ...(egress ? egressRoutes({ egress }) : []),
  ];
  let document: unknown;
  const documentRoute: RouteSpec = defineRoute({
    method: 'get',
    path: '/api/openapi.json',
    tag: 'operations',
    auth: 'none',
    summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
    // Built on first use: the schemas do not change while the server runs.
    handle: (): unknown =>
      (document ??= openApiDocument(
        [...served, documentRoute, ...EXTERNALLY_REGISTERED_ROUTES],
        packageJson.version,
      )),
  });
  return mountRoutes([...served, documentRoute], {
    keys: config.auth,
    rateLimit: rateLimitPerIp(rateLimit),
  });
}
