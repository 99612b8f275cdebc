import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import {
  REQUESTS,
  type ClientToServerEvents,
  type ErrorBody,
  type HandshakeAuth,
  type ServerToClientEvents,
  type Welcome,
} from '@livestage/protocol';
import type { TokenRevocations } from '../auth/TokenRevocations.js';
import { verifyToken, type VerifiedToken } from '../auth/tokens.js';
import type { ClusterNode } from '../cluster/ClusterNode.js';
import type { Config } from '../config/config.js';
import { AppError, toErrorBody } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { toWire } from '../media/wire.js';
import { Participant, type Connection } from '../rooms/Participant.js';
import type { Room } from '../rooms/Room.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { Handler, HandlerContext } from './handler.js';
import { HANDLERS } from './handlers/index.js';
import {
  countedRefusal,
  meterAck,
  NO_SIGNALING_METRICS,
  type SignalingMetrics,
} from '../metrics/SignalingMetrics.js';
import { requireAccess } from './guards.js';
import { isOriginAllowed } from './origin.js';
import { SignalingRateLimits } from './rateLimits.js';

interface SocketData {
  token: VerifiedToken;
}

export type SignalingServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;
type SignalingSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;

const KNOWN_EVENTS = new Set<string>(HANDLERS.map((handler) => handler.event));

/** Signaling payloads are small; this keeps a hostile client from making the server buffer much. */
const MAX_MESSAGE_BYTES = 64 * 1024;

export interface SignalingDeps {
  httpServer: HttpServer;
  config: Config;
  rooms: RoomRegistry;
  /** In a cluster: shared rate limits, and a better node to name when this one is full. */
  cluster?: ClusterNode;
  log: Logger;
  /** Tokens refused although valid (revoked over the admin API); none when absent. */
  revocations?: TokenRevocations;
  /** Refusals by code and join times; none counted when absent. */
  metrics?: SignalingMetrics;
  /**
   * Clock for token expiry on connect (ms since the epoch); default Date.now. Rate-limit windows
   * do not read it: rate-limiter-flexible keeps real time.
   */
  now?: () => number;
}

export function createSignalingServer({
  httpServer,
  config,
  rooms,
  cluster,
  log,
  revocations,
  metrics = NO_SIGNALING_METRICS,
  now = Date.now,
}: SignalingDeps): SignalingServer {
  const io: SignalingServer = new Server(httpServer, {
    path: '/socket.io',
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    serveClient: false,
    allowRequest: (req: IncomingMessage, callback) =>
      callback(null, isOriginAllowed(req.headers.origin, req.headers.host, config)),
  });

  // In a cluster the connection and per-address budgets are counted in Redis, for all nodes.
  const limits = new SignalingRateLimits(config.rateLimits, { redis: cluster?.redis });
  io.use((socket, next) => {
    admit(socket, config, limits, now(), revocations)
      .then((refusal) => refusal ?? refuseWhenFull(socket, config, rooms, cluster))
      .then(
        (refusal) => next(refusal && connectError(countedRefusal(metrics, refusal))),
        (error: unknown) => next(connectError(countedRefusal(metrics, toErrorBody(error)))),
      );
  });

  io.on('connection', (socket) => {
    onConnection(socket, config, rooms, limits, log, cluster, metrics).catch((error: unknown) => {
      log.error('connection setup failed', { error: String(error) });
      socket.emit('kicked', toErrorBody(error));
      socket.disconnect(true);
    });
  });
  return io;
}

/**
 * The handshake: the token is verified first, then exactly the budget its verdict names is
 * charged (see SignalingRateLimits). Verifying first costs a size check and one HMAC, all local,
 * which is cheaper than a limiter lookup will be once limits live in a shared store; nothing
 * expensive (rooms, routers) happens before a connection is admitted. Resolves to the refusal,
 * or to undefined with `socket.data.token` set.
 */
async function admit(
  socket: SignalingSocket,
  config: Config,
  limits: SignalingRateLimits,
  now: number,
  revocations: TokenRevocations | undefined,
): Promise<ErrorBody | undefined> {
  const ip = socket.handshake.address;
  let token: VerifiedToken;
  try {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    token = verifyToken(config.auth, auth?.token, { now });
  } catch (error) {
    return (await limits.chargeRefusedToken(ip)) ?? toErrorBody(error);
  }
  if (revocations?.isRevoked(token)) {
    return (
      (await limits.chargeRefusedToken(ip)) ?? {
        code: 'UNAUTHORIZED',
        message: 'access token revoked',
      }
    );
  }
  const holder = { room: token.grants.room, identity: token.identity };
  const refusal = await limits.chargeConnection(holder, ip);
  if (!refusal) {
    socket.data.token = token;
    revocations?.admitted(token);
  }
  return refusal;
}

/**
 * A node past its participant budget (or draining) takes no one new, except a client taking
 * its own participant back; in a cluster the refusal names a node with room to spare.
 */
function refuseWhenFull(
  socket: SignalingSocket,
  config: Config,
  rooms: RoomRegistry,
  cluster: ClusterNode | undefined,
): ErrorBody | undefined {
  const { grants, identity } = socket.data.token;
  const here = rooms.rooms.get(grants.room)?.participants.get(identity);
  if (here && !here.remote) return undefined; // a resume (or a replacement) of someone here
  const full = rooms.localParticipants >= config.node.maxParticipants;
  if (!full && !(cluster && rooms.draining)) return undefined;
  const node = cluster?.betterNode();
  return {
    code: 'UNAVAILABLE',
    message: rooms.draining ? 'the server is shutting down' : 'this node is full',
    ...(node ? { node } : {}),
  };
}

async function onConnection(
  socket: SignalingSocket,
  config: Config,
  rooms: RoomRegistry,
  limits: SignalingRateLimits,
  log: Logger,
  cluster: ClusterNode | undefined,
  metrics: SignalingMetrics,
): Promise<void> {
  const { identity, grants } = socket.data.token;
  const resumeWith = (socket.handshake.auth as Partial<HandshakeAuth> | undefined)?.resume;
  const existing = rooms.rooms.get(grants.room)?.participants.get(identity);
  const connection: Connection = {
    id: socket.id,
    emit: (event, ...args) => socket.emit(event, ...args),
    disconnect: () => socket.disconnect(true),
  };
  if (existing && resumeWith !== undefined && existing.canResume(resumeWith, grants)) {
    const room = rooms.rooms.get(grants.room);
    if (room) {
      bindSocket(socket, { room, participant: existing, config }, limits, metrics);
      const resumeCredential = existing.resumeCredential.rotate();
      // The welcome goes first, then whatever the participant missed while it was away.
      socket.emit('welcome', welcomeFor(room, existing, true, resumeCredential));
      room.resume(existing, connection);
      existing.log.info('participant resumed');
      return;
    }
  }
  if (rooms.draining) {
    const node = cluster?.betterNode();
    socket.emit('kicked', {
      code: 'UNAVAILABLE',
      message: 'the server is shutting down',
      ...(node ? { node } : {}),
    });
    socket.disconnect(true);
    return;
  }
  const room = await rooms.getOrCreate(grants.room);
  if (!socket.connected) {
    rooms.releaseIfEmpty(room);
    return;
  }
  const participantLog = log.child({ roomId: room.name, participantId: identity });
  const participant = new Participant(identity, grants, connection, participantLog);
  try {
    room.admit(participant);
  } catch (error) {
    socket.emit('kicked', toErrorBody(error));
    socket.disconnect(true);
    rooms.releaseIfEmpty(room);
    return;
  }
  bindSocket(socket, { room, participant, config }, limits, metrics);
  participant.emit(
    'welcome',
    welcomeFor(room, participant, false, participant.resumeCredential.value),
  );
  participantLog.info('participant connected', { role: grants.role });
}

function welcomeFor(
  room: Room,
  participant: Participant,
  resumed: boolean,
  resumeCredential: string,
): Welcome {
  return {
    routerRtpCapabilities: toWire.rtpCapabilities(room.router.rtpCapabilities),
    identity: participant.identity,
    role: participant.role,
    roomName: room.name,
    resumed,
    resumeCredential,
  };
}

/** Routes a socket's requests to its participant; a dropped socket suspends it, a closed one leaves. */
function bindSocket(
  socket: SignalingSocket,
  context: HandlerContext,
  limits: SignalingRateLimits,
  metrics: SignalingMetrics,
): void {
  const { room, participant, config } = context;
  const ip = socket.handshake.address;
  const refuse = (ack: unknown, error: ErrorBody) => {
    if (typeof ack === 'function') (ack as (response: unknown) => void)({ ok: false, error });
  };
  for (const handler of HANDLERS) {
    socket.on(handler.event, (...args: unknown[]) => {
      // Requests are (payload, ack). Anything else still gets an answer when it has an ack.
      const connectedAt = handler.event === 'join' ? socket.handshake.issued : undefined;
      const ack = meterAck(args.at(-1), metrics, connectedAt);
      const wellFormed = args.length === 2 && typeof args[0] !== 'function';
      // Checked before anything is queued, so a flood costs the server almost nothing.
      limits.chargeRequest(socket.id, ip).then(
        (refusal) => {
          if (refusal) refuse(ack, refusal);
          else if (!wellFormed)
            refuse(ack, { code: 'INVALID_PAYLOAD', message: 'expected (payload, ack)' });
          else dispatch(handler, context, args[0], ack);
        },
        (error: unknown) => participant.log.error('rate limiter failed', { error: String(error) }),
      );
    });
  }
  socket.onAny((event: unknown, ...args: unknown[]) => {
    if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return;
    refuse(meterAck(args.at(-1), metrics), { code: 'UNSUPPORTED', message: 'unknown request' });
  });
  socket.on('disconnect', (reason) => {
    limits.forgetSocket(socket.id);
    // Replaced by a resumed connection: the participant lives on there.
    if (participant.connectionId !== socket.id) return;
    const deliberate =
      reason === 'client namespace disconnect' || reason === 'server namespace disconnect';
    if (deliberate || !participant.joined) room.remove(participant);
    else room.suspend(participant, config.rooms.reconnectGraceMs);
  });
}

function dispatch(handler: Handler, context: HandlerContext, payload: unknown, ack: unknown): void {
  // A request without an ack callback cannot be answered; doing nothing is the safe reply.
  if (typeof ack !== 'function') return;
  const reply = ack as (response: unknown) => void;
  const { participant } = context;
  if (participant.closed) {
    reply({ ok: false, error: { code: 'INVALID_STATE', message: 'participant left' } });
    return;
  }
  void participant.requests.run(async () => {
    const { schema, access } = REQUESTS[handler.event];
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      reply({
        ok: false,
        error: { code: 'INVALID_PAYLOAD', message: describeIssue(parsed.error.issues[0]) },
      });
      return;
    }
    try {
      requireAccess(participant, access);
      const data = await handler.handle(context, parsed.data as never);
      reply({ ok: true, data });
    } catch (error) {
      if (!(error instanceof AppError)) {
        participant.log.error('request failed', { event: handler.event, error: String(error) });
      }
      reply({ ok: false, error: toErrorBody(error) });
      return;
    }
    try {
      await handler.afterAck?.(context);
    } catch (error) {
      participant.log.error('follow-up failed', { event: handler.event, error: String(error) });
    }
  });
}

/** Says what was wrong in a few words; never echoes much of what the client sent. */
function describeIssue(issue: { path: PropertyKey[]; message: string } | undefined): string {
  if (!issue) return 'invalid payload';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'payload';
  const text = `${where}: ${issue.message}`;
  return text.length > MAX_ISSUE_LENGTH ? `${text.slice(0, MAX_ISSUE_LENGTH)}…` : text;
}

const MAX_ISSUE_LENGTH = 160;

function connectError(body: ErrorBody): Error & { data: ErrorBody } {
  return Object.assign(new Error(body.message), { data: body });
}
