import type { RtpCapabilities } from '@livestage/protocol';

const BANDWIDTH_FEEDBACK = new Set(['transport-cc', 'goog-remb']);
const BANDWIDTH_EXTENSIONS = new Set([
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
]);

/**
 * The router's capabilities minus bandwidth estimation (transport-cc, REMB). A viewer that
 * advertises them but never sends the feedback would leave mediasoup at its initial estimate:
 * a mediasoup transport only manages consumer bitrate when a video consumer has transport-cc
 * (or abs-send-time + goog-remb) in its parameters (Transport.cpp, tccClient). Without them,
 * each consumer forwards the layer the server prefers for it, as for a viewer with ample
 * bandwidth. NACK and PLI stay: they cost the server what real viewers cost it.
 */
export function receiveOnlyCapabilities(router: RtpCapabilities): RtpCapabilities {
  return {
    codecs: (router.codecs ?? []).map((codec) => ({
      ...codec,
      rtcpFeedback: (codec.rtcpFeedback ?? []).filter((fb) => !BANDWIDTH_FEEDBACK.has(fb.type)),
    })),
    headerExtensions: (router.headerExtensions ?? []).filter(
      (ext) => !BANDWIDTH_EXTENSIONS.has(ext.uri),
    ),
  };
}
