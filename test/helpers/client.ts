import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ClientToServerEvents,
  ErrorBody,
  ServerToClientEvents,
  Welcome,
} from '../../client-sdk/src/protocol.js';
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
