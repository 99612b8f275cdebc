import type { types } from 'mediasoup';
import type { TransportOptions } from '../../../client-sdk/src/protocol.js';
import type { Config } from '../config/config.js';
import { toWire } from './wire.js';

export interface TransportAppData extends types.AppData {
  identity: string;
  direction: 'send' | 'recv';
}

/** A WebRTC transport on the worker's shared WebRtcServer (one UDP and one TCP port per worker). */
export async function createWebRtcTransport(
  router: types.Router,
  webRtcServer: types.WebRtcServer,
  media: Config['media'],
  appData: TransportAppData,
): Promise<types.WebRtcTransport<TransportAppData>> {
  const transport = await router.createWebRtcTransport<TransportAppData>({
    webRtcServer,
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    initialAvailableOutgoingBitrate: media.initialOutgoingBitrate,
    appData,
  });
  if (appData.direction === 'send') {
    await transport.setMaxIncomingBitrate(media.maxIncomingBitrate);
  }
  return transport;
}

export function transportOptions(transport: types.WebRtcTransport): TransportOptions {
  return {
    id: transport.id,
    iceParameters: transport.iceParameters,
    iceCandidates: toWire.iceCandidates(transport.iceCandidates),
    dtlsParameters: toWire.dtlsParameters(transport.dtlsParameters),
  };
}
