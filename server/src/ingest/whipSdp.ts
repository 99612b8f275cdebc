import * as sdpTransform from 'sdp-transform';
import type { MediaDescription } from 'sdp-transform';
import * as sdpCommon from 'mediasoup-client/handlers/sdp/commonUtils';
import { RemoteSdp } from 'mediasoup-client/handlers/sdp/RemoteSdp';
import { getRtpEncodings } from 'mediasoup-client/handlers/sdp/unifiedPlanUtils';
import * as ortc from 'mediasoup-client/ortc';
import type { RtpParameters as ClientRtpParameters } from 'mediasoup-client/types';
import type { types } from 'mediasoup';
import { IngestError } from './IngestError.js';
import { answerFingerprints, offerCapabilities, type Offer } from './offer.js';

export interface PublishedSection {
  section: MediaDescription;
  rtpParameters: types.RtpParameters;
}

/**
 * What transport.produce() needs for each m= line of a WHIP offer: the first codec the router
 * takes (and its RTX), with the offer's payload types and header extension ids (a producer's
 * are its own; mediasoup maps them). Simulcast (RFC 8853 rids) gives one encoding per rid, in
 * the a=simulcast order, which is lowest quality first for browsers. No usable codec → 422.
 */
export function publishedSections(
  offer: Offer,
  routerCapabilities: types.RtpCapabilities,
): PublishedSection[] {
  const extended = ortc.getExtendedRtpCapabilities(
    offerCapabilities(offer) as never,
    routerCapabilities as never,
    true,
  );
  return offer.media.map((section) => {
    const kind = section.type as 'audio' | 'video';
    const parameters = ortc.getSendingRtpParameters(kind, extended);
    parameters.codecs = ortc.reduceCodecs(parameters.codecs);
    if (parameters.codecs.length === 0) {
      throw new IngestError(422, 'UNSUPPORTED', `no ${kind} codec the server can take`);
    }
    parameters.mid = String(section.mid);
    parameters.rtcp = {
      cname: sdpCommon.getCname({ offerMediaObject: section }),
      reducedSize: true,
    };
    parameters.encodings = encodingsOf(section, parameters);
    return { section, rtpParameters: parameters as unknown as types.RtpParameters };
  });
}

function encodingsOf(
  section: MediaDescription,
  parameters: ClientRtpParameters,
): ClientRtpParameters['encodings'] {
  const sendRids = (section.rids ?? [])
    .filter((rid) => rid.direction === 'send')
    .map((rid) => String(rid.id));
  if (section.simulcast && sendRids.length > 1) {
    return sdpTransform
      .parseSimulcastStreamList(section.simulcast.list1)
      .map((alternatives) => String(alternatives[0]?.scid))
      .filter((rid) => sendRids.includes(rid))
      .map((rid) => ({ rid }));
  }
  // OBS and other non-browser senders name their SSRCs; the MID extension is then not needed.
  if (section.ssrcs?.length)
    return getRtpEncodings({ offerMediaObject: section, codecs: parameters.codecs });
  return [{}];
}

/** The recvonly answer: ICE-lite, our candidates, setup:passive, what each producer takes. */
export function whipAnswer(
  transport: types.WebRtcTransport,
  sections: readonly PublishedSection[],
): string {
  const remoteSdp = new RemoteSdp({
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates as never,
    dtlsParameters: { role: 'server', fingerprints: answerFingerprints(transport) } as never,
  });
  for (const { section, rtpParameters } of sections) {
    remoteSdp.send({
      offerMediaObject: section,
      offerRtpParameters: rtpParameters as never,
      answerRtpParameters: rtpParameters as never,
    });
  }
  return remoteSdp.getSdp();
}
