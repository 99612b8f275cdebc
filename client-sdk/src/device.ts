import { Device, detectDevice, type types } from 'mediasoup-client';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import { Chrome74 } from 'mediasoup-client/handlers/Chrome74';
import { Firefox120 } from 'mediasoup-client/handlers/Firefox120';
import { ReactNative106 } from 'mediasoup-client/handlers/ReactNative106';
import { Safari12 } from 'mediasoup-client/handlers/Safari12';

/** mediasoup-client's own handlers, by the names detectDevice() returns (as in Device). */
const BUILTIN_HANDLERS: Record<string, () => types.HandlerFactory> = {
  Chrome111: () => Chrome111.createFactory(),
  Chrome74: () => Chrome74.createFactory(),
  Firefox120: () => Firefox120.createFactory(),
  Safari12: () => Safari12.createFactory(),
  ReactNative106: () => ReactNative106.createFactory(),
};

type Direction = 'sendonly' | 'recvonly';

/**
 * A mediasoup Device that asks the browser for its codecs at once. Device.load() needs them and
 * gets them from two throwaway RTCPeerConnections, one after the other (about 100 ms on a busy
 * machine); started here, before the socket opens, both run while the server answers, and
 * load() finds them ready. Throws UnsupportedError, like `new Device()`, in a browser mediasoup
 * cannot work with.
 */
export function deviceProbingEarly(): Device {
  const handlerName = detectDevice();
  const builtin = handlerName === undefined ? undefined : BUILTIN_HANDLERS[handlerName];
  if (!builtin) return new Device();
  const factory = builtin();
  const probes = new Map<Direction, Promise<types.RtpCapabilities>>();
  const probe = (direction: Direction): Promise<types.RtpCapabilities> => {
    let capabilities = probes.get(direction);
    if (!capabilities) {
      capabilities = factory.getNativeRtpCapabilities({ direction });
      probes.set(direction, capabilities);
    }
    return capabilities;
  };
  // A failure is load()'s to report; until then it must not count as unhandled.
  for (const direction of ['recvonly', 'sendonly'] as const)
    probe(direction).catch(() => undefined);
  return new Device({
    handlerFactory: {
      ...factory,
      getNativeRtpCapabilities: ({ direction }) => probe(direction),
    },
  });
}
