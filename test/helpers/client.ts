import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ClientToServerEvents,
  ErrorBody,
  JoinResponse,
  ServerToClientEvents,
  Welcome,
} from '@livestage/protocol';
import { defaultGrants, type Grants, type Role } from '../../server/src/auth/grants.js';
import { mintToken } from '../../server/src/auth/tokens.js';
import { TEST_KEYS } from './server.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function tokenFor(
  room: string,
  identity: string,
  role: Role,
  overrides: Partial<Grants> = {},
): string {
  return mintToken(TEST_KEYS, {
    identity,
    grants: { ...defaultGrants(room, role), ...overrides },
    ttlSeconds: 600,
  });
}

/** A raw socket.io client speaking the protocol by hand, as a hostile or buggy client could. */
export async function connectRaw(
  url: string,
  token: string,
): Promise<{ socket: TestSocket; welcome: Welcome }> {
  const socket: TestSocket = io(url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const welcome = await new Promise<Welcome>((resolve, reject) => {
    socket.once('welcome', resolve);
    socket.once('connect_error', (error: Error & { data?: ErrorBody }) =>
      reject(Object.assign(new Error(error.message), { data: error.data })),
    );
  });
  return { socket, welcome };
}

/** Sends a request and returns the raw ack, whatever it is. */
export async function request(
  socket: TestSocket,
  event: string,
  payload: unknown,
): Promise<Ack<unknown>> {
  return (
    socket.timeout(5000) as unknown as { emitWithAck(e: string, p: unknown): Promise<Ack<unknown>> }
  ).emitWithAck(event, payload);
}

export function errorCode(ack: Ack<unknown>): string | undefined {
  return ack.ok ? undefined : ack.error.code;
}

/** RTP parameters for a single VP8 stream, valid for mediasoup, as a client would send. */
export function vp8RtpParameters(ssrc = 11111111) {
  return {
    mid: '0',
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 96,
        clockRate: 90000,
        rtcpFeedback: [{ type: 'nack' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }],
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc }],
    rtcp: { cname: 'test' },
  };
}

/** Asks to publish a single VP8 camera stream on `transportId`. */
export function produceVideo(
  socket: TestSocket,
  transportId: string,
  rtpParameters: object = vp8RtpParameters(),
) {
  return request(socket, 'produce', {
    transportId,
    kind: 'video',
    rtpParameters,
    source: 'camera',
  });
}

/** RTP parameters for a single Opus stream matching the router's codec, as a client would send. */
export function opusRtpParameters(ssrc = 22222222, mid = '1') {
  return {
    mid,
    codecs: [
      {
        mimeType: 'audio/opus',
        payloadType: 111,
        clockRate: 48000,
        channels: 2,
        parameters: { useinbandfec: 1, usedtx: 1 },
        rtcpFeedback: [{ type: 'transport-cc' }],
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc }],
    rtcp: { cname: 'test' },
  };
}

/** Asks to publish a single Opus microphone stream on `transportId`. */
export function produceAudio(
  socket: TestSocket,
  transportId: string,
  rtpParameters: object = opusRtpParameters(),
) {
  return request(socket, 'produce', {
    transportId,
    kind: 'audio',
    rtpParameters,
    source: 'microphone',
  });
}

type EventPayload<E extends keyof ServerToClientEvents> = Parameters<ServerToClientEvents[E]>[0];

/** Resolves with the next `event` on `socket` that passes `filter`; rejects after `timeoutMs`. */
export function nextEvent<E extends keyof ServerToClientEvents>(
  socket: TestSocket,
  event: E,
  filter: (payload: EventPayload<E>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<EventPayload<E>> {
  const emitter = socket as unknown as {
    on(event: string, listener: (payload: never) => void): void;
    off(event: string, listener: (payload: never) => void): void;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: EventPayload<E>) => {
      if (!filter(payload)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(payload);
    };
    emitter.on(event, listener);
  });
}

/** Records every server event `socket` receives from now on, in order. */
export function recordEvents(socket: TestSocket): {
  readonly events: { event: string; payload: unknown }[];
  of<E extends keyof ServerToClientEvents>(event: E): EventPayload<E>[];
} {
  const events: { event: string; payload: unknown }[] = [];
  socket.onAny((event: string, payload: unknown) => events.push({ event, payload }));
  return {
    events,
    of: <E extends keyof ServerToClientEvents>(event: E) =>
      events.filter((e) => e.event === event).map((e) => e.payload as EventPayload<E>),
  };
}

/**
 * A request the server answers with NOT_FOUND after everything already queued for `socket`'s
 * participant; once it resolves, whatever those requests emitted to `socket` has arrived.
 */
export async function barrier(socket: TestSocket): Promise<void> {
  const ack = await request(socket, 'pauseConsumer', { consumerId: 'barrier' });
  if (errorCode(ack) !== 'NOT_FOUND') throw new Error(`barrier: ${JSON.stringify(ack)}`);
}

/** A raw client that has joined its room, with every event it got since its welcome recorded. */
export interface JoinedClient {
  identity: string;
  socket: TestSocket;
  welcome: Welcome;
  join: JoinResponse;
  events: ReturnType<typeof recordEvents>;
}

/** Connects with `token`, joins with the router's own capabilities; fails on a refused join. */
export async function joinRaw(url: string, token: string): Promise<JoinedClient> {
  const { socket, welcome } = await connectRaw(url, token);
  const events = recordEvents(socket);
  const ack = await request(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities });
  if (!ack.ok) {
    socket.disconnect();
    throw new Error(`join refused: ${JSON.stringify(ack)}`);
  }
  return { identity: welcome.identity, socket, welcome, join: ack.data as JoinResponse, events };
}
