import { z } from 'zod';
import { ROLES } from '../auth/grants.js';
import { identitySchema } from '../auth/tokens.js';
import { roomNameSchema } from './schemas.js';
import { tokenRequest } from './routes/tokens.js';
import type { RouteSpec } from './routeTable.js';

/**
 * Routes that other modules register on the app themselves (health, tokens, metrics, quality,
 * cluster): described here so that the OpenAPI document names every route the app serves. A
 * new route elsewhere belongs here too (the OpenAPI test fails until it is).
 */
export const EXTERNALLY_REGISTERED_ROUTES: readonly RouteSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    tag: 'operations',
    auth: 'none',
    summary: "The node's health: 200 ok, 503 degraded or draining (load balancers read it)",
    responses: {
      200: {
        description: 'healthy',
        schema: z.object({
          status: z.enum(['ok', 'degraded', 'draining']),
          uptimeSeconds: z.number(),
          rooms: z.number().int(),
          memory: z.object({ rssBytes: z.number(), heapUsedBytes: z.number() }),
          workers: z.array(z.record(z.string(), z.unknown())),
        }),
      },
      503: { description: 'degraded or draining (same body)' },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'operations',
    auth: 'metricsToken',
    summary: 'Prometheus metrics (text exposition format)',
    responses: {
      200: {
        description: 'the metrics',
        contentType: 'text/plain; version=0.0.4',
        schema: z.string(),
      },
    },
  },
  {
    method: 'post',
    path: '/api/tokens',
    tag: 'tokens',
    auth: 'apiKey',
    summary: "Mints an access token with the role's default grants",
    body: tokenRequest,
    responses: {
      200: {
        description: 'the token',
        schema: z.object({
          token: z.string(),
          identity: z.string(),
          expiresAt: z.number().int().meta({ description: 'seconds since the epoch' }),
        }),
      },
    },
  },
  {
    method: 'get',
    path: '/api/dev/token',
    tag: 'tokens',
    auth: 'none',
    summary: 'Development only (DEV_ENDPOINTS): a token of any role for anyone',
    query: z.object({
      room: roomNameSchema,
      identity: identitySchema.optional(),
      role: z.enum(ROLES).optional(),
      name: z.string().max(128).optional(),
    }),
    responses: {
      200: {
        description: 'the token',
        schema: z.object({ token: z.string(), identity: z.string() }),
      },
    },
  },
  {
    method: 'get',
    path: '/api/rooms/{room}/quality',
    tag: 'rooms',
    auth: 'apiKey',
    summary: "The room's latest quality report on this node (see QualityReport in the SDK)",
    params: z.object({ room: roomNameSchema }),
    responses: {
      200: { description: 'the report', schema: z.record(z.string(), z.unknown()) },
      404: { description: 'no report for this room (yet)' },
    },
  },
  {
    method: 'get',
    path: '/api/cluster/node',
    tag: 'cluster',
    auth: 'none',
    summary: 'In a cluster: the node a client should connect to',
    responses: { 200: { description: 'a node', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get',
    path: '/api/cluster/nodes',
    tag: 'cluster',
    auth: 'apiKey',
    summary: 'In a cluster: every node and its load',
    responses: { 200: { description: 'the nodes', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'post',
    path: '/internal/relays',
    tag: 'cluster',
    auth: 'nodeToken',
    summary: 'Node to node: offer a track relay',
    responses: { 201: { description: 'the relay', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'patch',
    path: '/internal/relays/{id}',
    tag: 'cluster',
    auth: 'nodeToken',
    summary: 'Node to node: the layers a relay needs',
    params: z.object({ id: z.string() }),
    body: z.object({ maxSpatialLayer: z.number().int().min(0).max(7) }).strict(),
    responses: { 204: { description: 'changed' } },
  },
  {
    method: 'delete',
    path: '/internal/relays/{id}',
    tag: 'cluster',
    auth: 'nodeToken',
    summary: 'Node to node: release a relay',
    params: z.object({ id: z.string() }),
    responses: { 204: { description: 'released' } },
  },
  {
    method: 'get',
    path: '/hls/{room}/{file}',
    tag: 'egress',
    auth: 'none',
    summary: "An HLS egress's playlist (index.m3u8) and segments (seg_NNNNN.ts), from HLS_DIR",
    description:
      'Static files for players and CDNs, from any origin (CORS *); the playlist is never cached.',
    params: z.object({ room: roomNameSchema, file: z.string() }),
    responses: {
      200: {
        description: 'the playlist or a segment',
        contentType: 'application/vnd.apple.mpegurl',
        schema: z.string(),
      },
      404: { description: 'no such file' },
    },
  },
  ...ingestRoutes(),
];

/** WHIP (RFC 9725) and WHEP: SDP in and out, served by routes/ingest.ts. */
function ingestRoutes(): RouteSpec[] {
  const sdp = (description: string) => ({
    description,
    contentType: 'application/sdp',
    schema: z.string(),
  });
  const session = z.object({ room: roomNameSchema, session: z.string() });
  return (['whip', 'whep'] as const).flatMap((kind): RouteSpec[] => {
    const what = kind === 'whip' ? 'publishes (WHIP, OBS)' : 'plays the host (WHEP)';
    return [
      {
        method: 'post',
        path: `/${kind}/{room}`,
        tag: 'ingest',
        auth: 'accessToken',
        summary: `Body: an SDP offer (application/sdp); ${what}`,
        params: z.object({ room: roomNameSchema }),
        responses: {
          201: sdp('the answer; Location: the session, ETag, Link: ice servers'),
          400: { description: 'not a usable SDP offer' },
          401: { description: 'no valid token' },
          403: { description: 'the token may not do this in this room' },
          404: { description: 'no such room (WHEP)' },
          409: { description: 'nobody is live yet (WHEP), Retry-After' },
          415: { description: 'not application/sdp' },
          422: { description: 'an offer the server cannot serve (codecs, tracks, rtcp-mux)' },
        },
      },
      {
        method: 'patch',
        path: `/${kind}/{room}/{session}`,
        tag: 'ingest',
        auth: 'accessToken',
        summary:
          'Trickle ICE (204) or ICE restart (200 + fragment); application/trickle-ice-sdpfrag',
        params: session,
        responses: {
          200: {
            description: 'ICE restarted: our new credentials and candidates',
            contentType: 'application/trickle-ice-sdpfrag',
            schema: z.string(),
          },
          204: { description: 'candidates taken (an ICE-lite server needs none)' },
          404: { description: 'no such session' },
          412: { description: 'If-Match does not match the ETag' },
        },
      },
      {
        method: 'delete',
        path: `/${kind}/{room}/{session}`,
        tag: 'ingest',
        auth: 'accessToken',
        summary: 'Ends the session',
        params: session,
        responses: { 200: { description: 'ended' }, 404: { description: 'no such session' } },
      },
    ];
  });
}
