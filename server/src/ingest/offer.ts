import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import * as sdpCommon from 'mediasoup-client/handlers/sdp/commonUtils';
import type { types } from 'mediasoup';
import { IngestError } from './IngestError.js';

/** An SDP offer is a few kilobytes; more is not an offer. */
export const MAX_OFFER_BYTES = 64 * 1024;

export interface Offer {
  readonly sdp: SessionDescription;
  /** One per m= line, in order (sdp-transform's objects, mid as a string). */
  readonly media: readonly MediaDescription[];
}

/**
 * Parses a WHIP or WHEP offer and checks what every use needs: ICE credentials, a DTLS
 * fingerprint and rtcp-mux on every media section (mediasoup has no other mode). Malformed → 400;
 * well-formed but unusable → 422. Nothing is created before this passes.
 */
export function parseOffer(text: string, direction: 'sendonly' | 'recvonly'): Offer {
  if (!text.startsWith('v=0')) throw new IngestError(400, 'INVALID_PAYLOAD', 'not an SDP offer');
  let sdp: SessionDescription;
  try {
    sdp = sdpTransform.parse(text);
  } catch {
    throw new IngestError(400, 'INVALID_PAYLOAD', 'malformed SDP');
  }
  const media = sdp.media ?? [];
  if (media.length === 0) throw new IngestError(400, 'INVALID_PAYLOAD', 'the offer has no media');
  for (const section of media) {
    if (section.mid === undefined) {
      throw new IngestError(400, 'INVALID_PAYLOAD', 'every media section needs a=mid');
    }
    section.mid = String(section.mid);
    // sdp-transform reads "111 63" as a number when there is one payload type.
    section.payloads = String(section.payloads ?? '');
    if (!(section.iceUfrag ?? sdp.iceUfrag) || !(section.icePwd ?? sdp.icePwd)) {
      throw new IngestError(400, 'INVALID_PAYLOAD', 'the offer lacks ICE credentials');
    }
    if (!(section.fingerprint ?? sdp.fingerprint)) {
      throw new IngestError(400, 'INVALID_PAYLOAD', 'the offer lacks a DTLS fingerprint');
    }
    if (section.type !== 'audio' && section.type !== 'video') {
      throw new IngestError(422, 'UNSUPPORTED', `${section.type} sections are not supported`);
    }
    if (section.port === 0) {
      throw new IngestError(422, 'UNSUPPORTED', 'disabled (port 0) sections are not supported');
    }
    if (!section.rtcpMux) throw new IngestError(422, 'UNSUPPORTED', 'rtcp-mux is required');
    const dir = section.direction ?? 'sendrecv';
    if (dir !== direction && dir !== 'sendrecv') {
      throw new IngestError(422, 'UNSUPPORTED', `a ${direction} offer was expected, not ${dir}`);
    }
  }
  for (const kind of ['audio', 'video'] as const) {
    if (media.filter((section) => section.type === kind).length > 1) {
      throw new IngestError(422, 'UNSUPPORTED', `at most one ${kind} track`);
    }
  }
  return { sdp, media };
}

/**
 * The offerer's DTLS role for transport.connect(). An offerer says actpass ('auto'); we answer
 * passive, so it is the DTLS client. An offerer that insists on being passive is refused (422).
 */
export function offererDtlsParameters(offer: Offer): types.DtlsParameters {
  const dtls = sdpCommon.extractDtlsParameters({ sdpObject: offer.sdp });
  if (dtls.role === 'server') {
    throw new IngestError(422, 'UNSUPPORTED', 'the offerer must take a=setup:actpass or active');
  }
  return { role: 'client', fingerprints: dtls.fingerprints } as types.DtlsParameters;
}

/** The offer's capabilities: its codecs and header extensions with its own ids (BUNDLE). */
export function offerCapabilities(offer: Offer): types.RtpCapabilities {
  return sdpCommon.extractRtpCapabilities({
    sdpObject: offer.sdp,
  }) as unknown as types.RtpCapabilities;
}

/** Our DTLS side in an answer: sha-256 only (OBS's libdatachannel fails on sha-512/sha-384). */
export function answerFingerprints(transport: types.WebRtcTransport): types.DtlsFingerprint[] {
  const sha256 = transport.dtlsParameters.fingerprints.filter((f) => f.algorithm === 'sha-256');
  return sha256.length > 0 ? sha256 : transport.dtlsParameters.fingerprints.slice(0, 1);
}
