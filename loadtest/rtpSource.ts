// The pieces of a hand-made RTP publisher that several tools share (the load tester's publisher,
// the tests' media helper): the RTP parameters of ffmpeg's VP8 and Opus streams as a client
// announces them, the SRTP session set-up, and the local UDP socket ffmpeg sends to.
import { createSocket, type Socket } from 'node:dgram';
import type { RtpParameters } from '@livestage/protocol';
import type { SrtpKeys } from './peer.js';

export const VIDEO_PAYLOAD_TYPE = 96;
export const AUDIO_PAYLOAD_TYPE = 111;
/** RFC 6464: each audio packet says how loud it is (what active speaker detection reads). */
export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
export const AUDIO_LEVEL_EXTENSION_ID = 10;

export function videoParameters(ssrc: number): RtpParameters {
  return {
    mid: '0',
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: VIDEO_PAYLOAD_TYPE,
        clockRate: 90000,
        rtcpFeedback: [
          { type: 'nack', parameter: '' },
          { type: 'nack', parameter: 'pli' },
          { type: 'ccm', parameter: 'fir' },
        ],
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc }],
    rtcp: { cname: 'livestage-loadtest', reducedSize: true },
  };
}

/** Opus as ffmpeg sends it; `withAudioLevel` announces the RFC 6464 header extension too. */
export function audioParameters(ssrc: number, withAudioLevel = false): RtpParameters {
  return {
    mid: '1',
    codecs: [
      {
        mimeType: 'audio/opus',
        payloadType: AUDIO_PAYLOAD_TYPE,
        clockRate: 48000,
        channels: 2,
        parameters: { useinbandfec: 1 },
        rtcpFeedback: [],
      },
    ],
    headerExtensions: withAudioLevel
      ? [{ uri: AUDIO_LEVEL_URI, id: AUDIO_LEVEL_EXTENSION_ID }]
      : [],
    encodings: [{ ssrc }],
    rtcp: { cname: 'livestage-loadtest', reducedSize: true },
  };
}

/**
 * The RFC 6464 one-byte header extension for a packet `dBov` loud (-127 silence .. 0 full
 * scale): the voice-activity bit, then the level as -dBov.
 */
export function audioLevelExtension(dBov: number): { id: number; payload: Buffer } {
  const level = Math.min(127, Math.max(0, Math.round(-dBov)));
  const voice = level < 127 ? 0x80 : 0;
  return { id: AUDIO_LEVEL_EXTENSION_ID, payload: Buffer.from([voice | level]) };
}

export function sessionConfig(keys: SrtpKeys) {
  return {
    profile: keys.profile,
    keys: {
      localMasterKey: keys.localKey,
      localMasterSalt: keys.localSalt,
      remoteMasterKey: keys.remoteKey,
      remoteMasterSalt: keys.remoteSalt,
    },
  };
}

/** ffmpeg's -ssrc is a signed 32-bit option: stay below 2^31. */
export function randomSsrc(): number {
  return 1 + Math.floor(Math.random() * 0x7ffffffe);
}

export async function localSocket(onPacket: (packet: Buffer) => void): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', onPacket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}
