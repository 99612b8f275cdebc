import type { types } from 'mediasoup';
import type { TransportOptions } from '@livestage/protocol';
import type { Config } from '../config/config.js';
import { toWire } from './wire.js';

export interface TransportAppData extends types.AppData {
  identity: string;
  direction: 'send' | 'recv';
  /** The router it was made on (a room moves to a new router when its worker dies). */
  routerId: string;
}

export interface TransportSettings {
  /** Cap on what the server sends through a receiving transport (bits/s); null: none. */
  maxOutgoingBitrate?: number | null;
}

/**
 * A WebRTC transport on the worker's shared WebRtcServer (one UDP and one TCP port per worker),
 * with its bitrate settings applied. A setting that fails closes the transport: none is leaked.
 */
export async function createWebRtcTransport(
  router: types.Router,
  webRtcServer: types.WebRtcServer,
  media: Config['media'],
  appData: TransportAppData,
  settings: TransportSettings = {},
): Promise<types.WebRtcTransport<TransportAppData>> {
  const transport = await router.createWebRtcTransport<TransportAppData>({
    webRtcServer,
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    initialAvailableOutgoingBitrate: media.initialOutgoingBitrate,
    appData,
  });
  try {
    if (appData.direction === 'send') {
      await transport.setMaxIncomingBitrate(media.maxIncomingBitrate);
    } else if (settings.maxOutgoingBitrate) {
      await transport.setMaxOutgoingBitrate(settings.maxOutgoingBitrate);
    }
  } catch (error) {
    transport.close();
    throw error;
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
