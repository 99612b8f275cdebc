import * as sdpTransform from 'sdp-transform';
import type { MediaAttributes, MediaDescription } from 'sdp-transform';
import * as ortc from 'mediasoup-client/ortc';
import type { types } from 'mediasoup';
import { answerFingerprints, offerCapabilities, type Offer } from './offer.js';

/** Feedback a WHEP player can use without header extensions or RTX (see whepCapabilities). */
const USABLE_FEEDBACK = new Set(['nack', 'ccm']);

/**
 * What a WHEP player can receive, for consume(). mediasoup 3.12 sends a consumer's packets with
 * the router's payload types and header extension ids, and the player decodes only what its
 * offer named: so only codecs whose router payload type equals the offer's are usable (the
 * router keeps Chromium's opus 111 / VP8 96, media/codecs.ts), and no header extension (the ids
 * never match) and no RTX (its router payload type is not pinnable). The cost: no bandwidth
 * estimate from transport-cc for these players, and no retransmissions.
 */
export function whepCapabilities(
  offer: Offer,
  routerCapabilities: types.RtpCapabilities,
): types.RtpCapabilities {
  const extended = ortc.getExtendedRtpCapabilities(
    offerCapabilities(offer) as never,
    routerCapabilities as never,
    false,
  );
  const codecs = extended.codecs
    .filter((codec) => codec.localPayloadType === codec.remotePayloadType)
    .map((codec): types.RtpCodecCapability => ({
      kind: codec.kind,
      mimeType: codec.mimeType,
      preferredPayloadType: codec.remotePayloadType,
      clockRate: codec.clockRate,
      ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
      parameters: codec.remoteParameters,
      rtcpFeedback: (codec.rtcpFeedback ?? []).filter((fb) => USABLE_FEEDBACK.has(fb.type)),
    }));
  return { codecs, headerExtensions: [] };
}

/**
 * The sendonly answer: one section per offered one, in order; a section nothing is sent on is
 * answered inactive. SSRCs are named (there is no MID extension to demultiplex by).
 */
export function whepAnswer(
  transport: types.WebRtcTransport,
  offer: Offer,
  consumers: ReadonlyMap<string, types.Consumer>,
  streamId: string,
): string {
  const candidates = transport.iceCandidates.map((candidate) => ({
    foundation: candidate.foundation,
    component: 1,
    transport: candidate.protocol,
    priority: candidate.priority,
    ip: candidate.ip,
    port: candidate.port,
    type: candidate.type,
    ...(candidate.tcpType ? { tcptype: candidate.tcpType } : {}),
  }));
  const media = offer.media.map((section): MediaDescription => {
    const consumer = consumers.get(String(section.mid));
    const common = {
      type: section.type,
      protocol: section.protocol,
      connection: { version: 4, ip: '127.0.0.1' },
      mid: String(section.mid),
      setup: 'passive' as const,
      iceUfrag: transport.iceParameters.usernameFragment,
      icePwd: transport.iceParameters.password,
      candidates,
      endOfCandidates: 'end-of-candidates' as const,
      rtcpMux: 'rtcp-mux' as const,
    };
    if (!consumer) {
      return {
        ...common,
        port: 9,
        payloads: section.payloads,
        rtp: section.rtp,
        fmtp: section.fmtp,
        direction: 'inactive',
      };
    }
    const { codecs, encodings = [], rtcp } = consumer.rtpParameters;
    const ssrcs: MediaAttributes['ssrcs'] = [];
    const encoding = encodings[0];
    for (const ssrc of [encoding?.ssrc, encoding?.rtx?.ssrc]) {
      if (ssrc === undefined) continue;
      ssrcs.push({ id: ssrc, attribute: 'cname', value: rtcp?.cname ?? streamId });
      ssrcs.push({ id: ssrc, attribute: 'msid', value: `${streamId} ${consumer.id}` });
    }
    return {
      ...common,
      port: 9,
      direction: 'sendonly',
      rtcpRsize: 'rtcp-rsize',
      payloads: codecs.map((codec) => codec.payloadType).join(' '),
      rtp: codecs.map((codec) => ({
        payload: codec.payloadType,
        codec: codec.mimeType.split('/')[1] ?? codec.mimeType,
        rate: codec.clockRate,
        ...(codec.channels && codec.channels > 1 ? { encoding: codec.channels } : {}),
      })),
      fmtp: codecs
        .filter((codec) => Object.keys(codec.parameters ?? {}).length > 0)
        .map((codec) => ({
          payload: codec.payloadType,
          config: Object.entries(codec.parameters ?? {})
            .map(([key, value]) => `${key}=${String(value)}`)
            .join(';'),
        })),
      rtcpFb: codecs.flatMap((codec) =>
        (codec.rtcpFeedback ?? []).map((fb) => ({
          payload: codec.payloadType,
          type: fb.type,
          ...(fb.parameter ? { subtype: fb.parameter } : {}),
        })),
      ),
      msid: [{ id: streamId, appdata: consumer.id }] as unknown as MediaAttributes['msid'],
      ssrcs,
    };
  });
  const [fingerprint] = answerFingerprints(transport);
  return sdpTransform.write({
    version: 0,
    origin: {
      username: 'livestage',
      sessionId: Date.now(),
      sessionVersion: 1,
      netType: 'IN',
      ipVer: 4,
      address: '0.0.0.0',
    },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    ...(fingerprint
      ? { fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value } }
      : {}),
    msidSemantic: { semantic: 'WMS', token: '*' },
    groups: [
      {
        type: 'BUNDLE',
        mids: media.map((section) => section.mid).join(' '),
      },
    ],
    media,
  } as never);
}
