// The load tester's socket.io client: the protocol of client-sdk/src/protocol.ts, spoken the way
// the SDK speaks it (websocket only, one socket per participant, acks with a timeout).
import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ClientToServerEvents,
  ErrorBody,
  ResponseOf,
  ServerToClientEvents,
  Welcome,
} from '@livestage/protocol';

export type SignalingSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

type RequestOf<E extends keyof ClientToServerEvents> = Parameters<ClientToServerEvents[E]>[0];

/** A refused request or connection, with the server's error code when it gave one. */
export class SignalingError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface Signaling {
  socket: SignalingSocket;
  welcome: Welcome;
  request<E extends keyof ClientToServerEvents>(
    event: E,
    payload: RequestOf<E>,
  ): Promise<ResponseOf<E>>;
  close(): void;
}

/** Connects with `token` and resolves on the server's welcome. */
export async function connectSignaling(
  url: string,
  token: string,
  timeoutMs: number,
  onSocket: (socket: SignalingSocket) => void = () => {},
): Promise<Signaling> {
  const socket: SignalingSocket = io(url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  // Listeners for what the server sends right after welcome go on before it can arrive.
  onSocket(socket);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const welcome = await new Promise<Welcome>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new SignalingError('no welcome in time', 'TIMEOUT')),
        timeoutMs,
      );
      socket.once('welcome', resolve);
      socket.once('connect_error', (error: Error & { data?: ErrorBody }) =>
        reject(new SignalingError(error.message, error.data?.code ?? 'CONNECT_ERROR')),
      );
      socket.once('disconnect', (reason) =>
        reject(new SignalingError(`disconnected: ${reason}`, 'DISCONNECTED')),
      );
    });
    return {
      socket,
      welcome,
      request: (event, payload) => request(socket, event, payload, timeoutMs),
      close: () => {
        socket.disconnect();
      },
    };
  } catch (error) {
    socket.disconnect();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function request<E extends keyof ClientToServerEvents>(
  socket: SignalingSocket,
  event: E,
  payload: RequestOf<E>,
  timeoutMs: number,
): Promise<ResponseOf<E>> {
  const emitter = socket.timeout(timeoutMs) as unknown as {
    emitWithAck(event: E, payload: RequestOf<E>): Promise<Ack<ResponseOf<E>>>;
  };
  let ack: Ack<ResponseOf<E>>;
  try {
    ack = await emitter.emitWithAck(event, payload);
  } catch {
    throw new SignalingError(`${event}: no answer within ${timeoutMs} ms`, 'TIMEOUT');
  }
  if (!ack.ok) throw new SignalingError(`${event}: ${ack.error.message}`, ack.error.code);
  return ack.data;
}
