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
 * The browser's own codecs, asked once per page. Device.load() learns them from two throwaway
 * RTCPeerConnections, one after the other: 50–130 ms during which the page does nothing else.
 * They do not depend on the server, so asking early (prepareDevice) takes that off the join.
 */
let nativeCapabilities:
  | { factory: types.HandlerFactory; probes: Map<Direction, Promise<types.RtpCapabilities>> }
  | undefined;

function capabilitiesCache(): typeof nativeCapabilities {
  if (nativeCapabilities) return nativeCapabilities;
  const handlerName = detectDevice();
  const builtin = handlerName === undefined ? undefined : BUILTIN_HANDLERS[handlerName];
  if (!builtin) return undefined;
  nativeCapabilities = { factory: builtin(), probes: new Map() };
  return nativeCapabilities;
}

function probe(direction: Direction): Promise<types.RtpCapabilities> {
  const cache = capabilitiesCache();
  if (!cache) throw new Error('no mediasoup handler for this browser');
  let capabilities = cache.probes.get(direction);
  if (!capabilities) {
    // One after the other, as Device.load() does: at once, they hold the page up longer.
    const previous = direction === 'sendonly' ? cache.probes.get('recvonly') : undefined;
    capabilities = (previous ?? Promise.resolve()).then(
      () => cache.factory.getNativeRtpCapabilities({ direction }),
      () => cache.factory.getNativeRtpCapabilities({ direction }),
    );
    cache.probes.set(direction, capabilities);
    // A failed probe is asked again next time (and reported by the load that awaits it).
    capabilities.catch(() => cache.probes.delete(direction));
  }
  return capabilities;
}

/** Starts asking the browser for its codecs now (see LiveRoom.prepare); safe to call often. */
export function prepareDevice(): void {
  if (!capabilitiesCache()) return;
  for (const direction of ['recvonly', 'sendonly'] as const)
    probe(direction).catch(() => undefined);
}

/**
 * A mediasoup Device that takes the browser's codecs from this page's cache: already there after
 * prepareDevice() or an earlier join, else asked by load() as mediasoup-client would. Throws
 * UnsupportedError, like `new Device()`, in a browser mediasoup cannot work with.
 */
export function createDevice(): Device {
  const cache = capabilitiesCache();
  if (!cache) return new Device();
  return new Device({
    handlerFactory: {
      ...cache.factory,
      getNativeRtpCapabilities: ({ direction }) => probe(direction),
    },
  });
}
