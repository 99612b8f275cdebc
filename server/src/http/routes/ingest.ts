import express, { Router, type Request, type Response } from 'express';
import type { TokenRevocations } from '../../auth/TokenRevocations.js';
import { verifyToken, type VerifiedToken } from '../../auth/tokens.js';
import { AppError, toErrorBody } from '../../errors.js';
import { httpStatusOf } from '../errorHandler.js';
import { iceServerLinks } from '../../ingest/iceServerLinks.js';
import { MAX_FRAGMENT_BYTES, parseIceFragment, restartFragment } from '../../ingest/iceFragment.js';
import { IngestError } from '../../ingest/IngestError.js';
import type { IngestKind, IngestSession, IngestSessions } from '../../ingest/IngestSession.js';
import { MAX_OFFER_BYTES, parseOffer } from '../../ingest/offer.js';
import { startWhep } from '../../ingest/whep.js';
import { startWhip, type IngestDeps } from '../../ingest/whip.js';
import { roomNameSchema } from '../schemas.js';

const SDP = 'application/sdp';
const FRAGMENT = 'application/trickle-ice-sdpfrag';

export interface IngestRouteDeps extends IngestDeps {
  revocations?: TokenRevocations;
}

/**
 * WHIP (RFC 9725) at /whip/{room} and WHEP (draft-ietf-wish-whep) at /whep/{room}: POST an offer
 * (201 + answer, Location, ETag), PATCH the session for trickle ICE (204: an ICE-lite server
 * needs no candidates) or an ICE restart (200 + our new credentials), DELETE it (200). Any
 * origin may call them (the bearer token is the credential, never a cookie).
 */
export function ingestRoutes(deps: IngestRouteDeps): Router {
  const router = Router();
  const sdpBody = express.text({ type: SDP, limit: MAX_OFFER_BYTES });
  const fragmentBody = express.text({ type: FRAGMENT, limit: MAX_FRAGMENT_BYTES });
  // CORS preflights and RFC 9725's OPTIONS carry no token: they are answered for any path here.
  router.use((req, res, next) => {
    const path = /^\/(whip|whep)\/[^/]+(\/[^/]+)?$/.exec(req.path);
    if (req.method !== 'OPTIONS' || !path) {
      next();
      return;
    }
    cors(res);
    if (path[2]) res.set('Accept-Patch', FRAGMENT);
    else res.set('Accept-Post', SDP);
    res.status(204).end();
  });
  for (const kind of ['whip', 'whep'] as const) {
    const endpoint = `/${kind}/:room`;
    const resource = `/${kind}/:room/:session`;
    router.post(endpoint, sdpBody, (req, res) =>
      answer(res, deps, async () => {
        const token = authorize(req, deps);
        const room = roomOf(req);
        if (!req.is(SDP) || typeof req.body !== 'string') {
          throw new IngestError(415, 'INVALID_PAYLOAD', `Content-Type must be ${SDP}`);
        }
        const offer = parseOffer(req.body, kind === 'whip' ? 'sendonly' : 'recvonly');
        const started =
          kind === 'whip'
            ? { ...(await startWhip(deps, token, room, offer)), start: () => undefined }
            : await startWhep(deps, token, room, offer);
        const links = iceServerLinks(deps.config.whip);
        res
          .status(201)
          .type(SDP)
          .set('Location', started.session.location)
          .set('ETag', started.session.etag)
          .set('Accept-Patch', FRAGMENT);
        if (links.length > 0) res.set('Link', links);
        res.once('finish', started.start);
        res.send(started.answer);
      }),
    );
    router.patch(resource, fragmentBody, (req, res) =>
      answer(res, deps, async () => {
        const session = sessionOf(req, kind, authorize(req, deps), deps.sessions);
        if (!req.is(FRAGMENT) || typeof req.body !== 'string') {
          throw new IngestError(415, 'INVALID_PAYLOAD', `Content-Type must be ${FRAGMENT}`);
        }
        // Some clients (@eyevinn/whip-web-client) send the tag as ETag rather than If-Match.
        const condition = req.get('If-Match') ?? req.get('ETag');
        if (condition !== undefined && condition !== '*' && condition !== session.etag) {
          throw new IngestError(412, 'INVALID_STATE', 'the session has changed (ETag)');
        }
        const fragment = parseIceFragment(req.body);
        if (fragment.ufrag === undefined || fragment.ufrag === session.remoteUfrag) {
          res.status(204).end();
          return;
        }
        if (fragment.pwd === undefined) {
          throw new IngestError(400, 'INVALID_PAYLOAD', 'an ICE restart needs a=ice-pwd');
        }
        const iceParameters = await session.restartIce(fragment.ufrag);
        res
          .status(200)
          .type(FRAGMENT)
          .set('ETag', session.etag)
          .send(restartFragment(iceParameters, session.transport.iceCandidates, session.sections));
      }),
    );
    router.delete(resource, (req, res) =>
      answer(res, deps, async () => {
        const session = sessionOf(req, kind, authorize(req, deps), deps.sessions);
        session.close('ended by its client (DELETE)');
        // 200 rather than 204: OBS warns on anything else.
        res.status(200).end();
      }),
    );
    for (const path of [endpoint, resource]) {
      router.all(path, (req, res) => {
        cors(res);
        const allowed = path === endpoint ? 'POST, OPTIONS' : 'PATCH, DELETE, OPTIONS';
        res.status(405).set('Allow', allowed);
        res.json({ error: { code: 'UNSUPPORTED', message: `${req.method} is not allowed here` } });
      });
    }
  }
  return router;
}

function cors(res: Response): void {
  res.removeHeader('Cross-Origin-Resource-Policy');
  res.set({
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'POST, PATCH, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match, ETag',
    'Access-Control-Expose-Headers': 'Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After',
  });
}

async function answer(
  res: Response,
  { log }: IngestRouteDeps,
  handle: () => Promise<void>,
): Promise<void> {
  cors(res);
  try {
    await handle();
  } catch (error) {
    const status = error instanceof IngestError ? error.status : statusOf(error);
    if (error instanceof IngestError) res.set(error.headers);
    if (!(error instanceof AppError))
      log.error('WHIP/WHEP request failed', { error: String(error) });
    res.status(status).json({ error: toErrorBody(error) });
  }
}

/** As the rest of the HTTP API, but an offer the server cannot serve is RFC 9725's 422. */
function statusOf(error: unknown): number {
  if (!(error instanceof AppError)) return 500;
  return error.code === 'UNSUPPORTED' ? 422 : httpStatusOf(error.code);
}

function authorize(req: Request, { config, revocations }: IngestRouteDeps): VerifiedToken {
  const header = req.get('Authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new IngestError(401, 'UNAUTHORIZED', 'Authorization: Bearer <token> required');
  const token = verifyToken(config.auth, match[1]);
  if (revocations?.isRevoked(token)) throw new IngestError(401, 'UNAUTHORIZED', 'token revoked');
  return token;
}

function roomOf(req: Request): string {
  const parsed = roomNameSchema.safeParse(req.params.room);
  if (!parsed.success) throw new IngestError(404, 'NOT_FOUND', 'no such room');
  return parsed.data;
}

/** The caller's own session: another identity's or room's is not found, whatever its id. */
function sessionOf(
  req: Request,
  kind: IngestKind,
  token: VerifiedToken,
  sessions: IngestSessions,
): IngestSession {
  const room = roomOf(req);
  const session = sessions.get(kind, room, String(req.params.session));
  if (!session || session.closed) throw new IngestError(404, 'NOT_FOUND', 'no such session');
  if (token.grants.room !== room || token.identity !== session.identity) {
    throw new IngestError(403, 'FORBIDDEN', 'not your session');
  }
  return session;
}
