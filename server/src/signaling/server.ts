import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type {
  ClientToServerEvents,
  ErrorBody,
  ServerToClientEvents,
} from '../../../client-sdk/src/protocol.js';
import { verifyToken, type VerifiedToken } from '../auth/tokens.js';
import type { Config } from '../config/config.js';
import { AppError, toErrorBody } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { toWire } from '../media/wire.js';
import { Participant } from '../rooms/Participant.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { Handler, HandlerContext } from './handler.js';
import { HANDLERS } from './handlers/index.js';
import { isOriginAllowed } from './origin.js';

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

/** Signaling payloads are small; this keeps a hostile client from making the server buffer much. */
const MAX_MESSAGE_BYTES = 64 * 1024;

export interface SignalingDeps {
  httpServer: HttpServer;
  config: Config;
  rooms: RoomRegistry;
  log: Logger;
}

export function createSignalingServer({
  httpServer,
  config,
  rooms,
  log,
}: SignalingDeps): SignalingServer {
  const io: SignalingServer = new Server(httpServer, {
    path: '/socket.io',
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    serveClient: false,
    allowRequest: (req: IncomingMessage, callback) =>
      callback(null, isOriginAllowed(req.headers.origin, req.headers.host, config)),
  });

  io.use((socket, next) => {
    try {
      const auth = socket.handshake.auth as Record<string, unknown> | undefined;
      socket.data.token = verifyToken(config.auth, auth?.token);
      next();
    } catch (error) {
      next(connectError(toErrorBody(error)));
    }
  });

  io.on('connection', (socket) => {
    onConnection(socket, config, rooms, log).catch((error: unknown) => {
      log.error('connection setup failed', { error: String(error) });
      socket.emit('kicked', toErrorBody(error));
      socket.disconnect(true);
    });
  });
  return io;
}

async function onConnection(
  socket: SignalingSocket,
  config: Config,
  rooms: RoomRegistry,
  log: Logger,
): Promise<void> {
  const { identity, grants } = socket.data.token;
  const room = await rooms.getOrCreate(grants.room);
  if (!socket.connected) {
    rooms.releaseIfEmpty(room);
    return;
  }
  const participantLog = log.child({ roomId: room.name, participantId: identity });
  const participant = new Participant(
    identity,
    grants,
    (event, ...args) => socket.emit(event, ...args),
    participantLog,
  );
  try {
    room.admit(participant);
  } catch (error) {
    socket.emit('kicked', toErrorBody(error));
    socket.disconnect(true);
    return;
  }
  const context: HandlerContext = { room, participant, config };
  for (const handler of HANDLERS) {
    socket.on(handler.event, (payload: unknown, ack: unknown) =>
      dispatch(handler, context, payload, ack),
    );
  }
  socket.on('disconnect', () => room.remove(participant));
  participant.emit('welcome', {
    routerRtpCapabilities: toWire.rtpCapabilities(room.router.rtpCapabilities),
    identity,
    role: grants.role,
    roomName: room.name,
  });
  participantLog.info('participant connected', { role: grants.role });
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
    const parsed = handler.schema.safeParse(payload);
    if (!parsed.success) {
      reply({
        ok: false,
        error: { code: 'INVALID_PAYLOAD', message: describeIssue(parsed.error.issues[0]) },
      });
      return;
    }
    try {
      const data = await handler.handle(context, parsed.data);
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

function describeIssue(issue: { path: PropertyKey[]; message: string } | undefined): string {
  if (!issue) return 'invalid payload';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'payload';
  return `${where}: ${issue.message}`;
}

function connectError(body: ErrorBody): Error & { data: ErrorBody } {
  return Object.assign(new Error(body.message), { data: body });
}
