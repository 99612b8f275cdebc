import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import type { TokenKeys } from '../auth/tokens.js';
import { AppError } from '../errors.js';
import { requireApiKey } from './basicAuth.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call a route: the API key pair (Basic), a metrics bearer token, a cluster node, a
 * participant's access token (Bearer, WHIP/WHEP), anyone.
 */
export type RouteAuth = 'apiKey' | 'metricsToken' | 'nodeToken' | 'accessToken' | 'none';

export interface RouteResponse {
  description: string;
  /** The JSON body; none for an empty response. */
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

type AnyObject = z.ZodObject;

interface RouteInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  req: Request;
  res: Response;
}

/**
 * One HTTP route, once: express is given it from here (validation, auth, rate limit, handler)
 * and the OpenAPI document is generated from the same schemas. `path` is in OpenAPI form
 * (`/api/rooms/{room}`). A route registered by another module has no `handle`: it is only
 * described, so the document still names every route the app serves.
 */
export interface RouteSpec<
  P extends AnyObject = AnyObject,
  Q extends AnyObject = AnyObject,
  B extends z.ZodType = z.ZodType,
> {
  method: HttpMethod;
  path: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  params?: P;
  query?: Q;
  body?: B;
  /** The first 2xx entry is what a handler's return value is sent with. */
  responses: Record<number, RouteResponse>;
  handle?: (input: RouteInput<P, Q, B>) => unknown;
}

/** Keeps the schemas' types for the handler; the table itself holds plain RouteSpecs. */
export function defineRoute<
  P extends AnyObject = AnyObject,
  Q extends AnyObject = AnyObject,
  B extends z.ZodType = z.ZodType,
>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

/** `/api/rooms/{room}` → `/api/rooms/:room` */
export function expressPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

export interface MountOptions {
  keys: TokenKeys;
  /** Runs before authentication, so a client guessing credentials is limited too. */
  rateLimit: RequestHandler;
}

/** An express router serving every route of `routes` that has a handler. */
export function mountRoutes(routes: readonly RouteSpec[], options: MountOptions): Router {
  const router = Router();
  const apiKey = requireApiKey(options.keys);
  for (const route of routes) {
    const handle = route.handle;
    if (!handle) continue;
    if (route.auth !== 'apiKey' && route.auth !== 'none') {
      throw new Error(`${route.path}: only apiKey or none routes are served from the table`);
    }
    const guards = route.auth === 'apiKey' ? [options.rateLimit, apiKey] : [options.rateLimit];
    const status = successStatus(route);
    router[route.method](expressPath(route.path), ...guards, async (req, res) => {
      const params = parse(route.params, req.params, 'path');
      const query = parse(route.query, req.query, 'query');
      const body = parse(route.body, route.body ? (req.body ?? {}) : undefined, 'body');
      const result = await handle({ params, query, body, req, res } as never);
      // A handler that answered itself (a file, not JSON) is left alone.
      if (res.headersSent) return;
      if (status === 204) res.status(204).end();
      else res.status(status).json(result);
    });
  }
  return router;
}

function successStatus(route: RouteSpec): number {
  const status = Object.keys(route.responses)
    .map(Number)
    .find((code) => code >= 200 && code < 300);
  if (status === undefined) throw new Error(`${route.method} ${route.path}: no 2xx response`);
  return status;
}

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AppError('INVALID_PAYLOAD', describeIssue(where, parsed.error.issues[0]));
}

const MAX_ISSUE_LENGTH = 160;

/** Says what was wrong in a few words; never echoes much of what the client sent. */
function describeIssue(where: string, issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return `invalid ${where}`;
  const at = [where, ...issue.path.map(String)].join('.');
  const text = `${at}: ${issue.message}`;
  return text.length > MAX_ISSUE_LENGTH ? `${text.slice(0, MAX_ISSUE_LENGTH)}…` : text;
}
