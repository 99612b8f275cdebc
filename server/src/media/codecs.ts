import type { types } from 'mediasoup';

/**
 * Opus with in-band FEC and DTX, VP8 and H264 for video, VP9 for those who prefer it.
 *
 * Opus and VP8 keep the payload types Chromium offers (111, 96): mediasoup 3.12 sends a consumer's
 * packets with the router's payload types, and a WHEP player (a bare RTCPeerConnection that made
 * the offer) decodes only the types it offered (server/src/ingest/whepSdp.ts).
 */
export const MEDIA_CODECS: types.RtpCodecCapability[] = [
  {
    kind: 'audio',
    mimeType: 'audio/opus',
    clockRate: 48000,
    channels: 2,
    preferredPayloadType: 111,
    parameters: { useinbandfec: 1, usedtx: 1 },
  },
  {
    kind: 'video',
    mimeType: 'video/VP8',
    clockRate: 90000,
    preferredPayloadType: 96,
    parameters: { 'x-google-start-bitrate': 1000 },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '42e01f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
  {
    kind: 'video',
    mimeType: 'video/VP9',
    clockRate: 90000,
    parameters: { 'profile-id': 2, 'x-google-start-bitrate': 1000 },
  },
];
