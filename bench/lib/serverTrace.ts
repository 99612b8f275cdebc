// What the mediasoup side of a join did and when, seen through mediasoup's observer API (it
// never changes what the server does, apart from asking the worker for keyframe traces). Times
// are epoch ms (performance.timeOrigin + performance.now()), comparable with the pages' clocks
// on the same machine.
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

/** One subscriber's receiving side, as the server saw it. */
export interface ServerJoinTrace {
  recvTransportCreated?: number;
  iceConnected?: number;
  dtlsConnected?: number;
  videoConsumerCreated?: number;
  videoConsumerResumed?: number;
  /** The first keyframe this subscriber's video consumer sent out. */
  videoKeyframeOut?: number;
  /** The spatial layer (simulcast stream) of that keyframe, from the consumer's layers. */
  firstSpatialLayer?: number;
  /** Spatial layers the video consumer switched to before its first keyframe went out. */
  layerChanges: { at: number; spatialLayer: number | undefined }[];
}

interface HostEvent {
  at: number;
  type: 'keyframe-in' | 'keyframe-request-out';
  ssrc?: number;
}

const now = (): number => performance.timeOrigin + performance.now();

/** Listens to every worker created after it is built. */
export class ServerTracer {
  readonly #byIdentity = new Map<string, ServerJoinTrace>();
  readonly #hostEvents: HostEvent[] = [];
  /** The host's video streams: SSRC → spatial layer (index of its rid in the encodings). */
  readonly #hostLayers = new Map<number, number>();
  /** Worker trace timestamps (its own monotonic ms) to epoch ms: the smallest offset seen. */
  #workerClockOffset = Number.POSITIVE_INFINITY;
  constructor() {
    mediasoup.observer.on('newworker', (worker) => {
      worker.observer.on('newrouter', (router) => {
        router.observer.on('newtransport', (transport) => this.#onTransport(transport));
      });
    });
  }

  /** The server's view of `identity`'s join (empty if it never made a transport). */
  joinOf(identity: string): ServerJoinTrace {
    return this.#byIdentity.get(identity) ?? { layerChanges: [] };
  }

  /**
   * Around one subscriber's first keyframe: the host's keyframe that fed it (the last one
   * that arrived on that stream before it went out) and the last keyframe request sent to the
   * host before that keyframe arrived, if any was sent after `since`.
   */
  hostKeyframeFor(
    keyframeOut: number,
    since: number,
    spatialLayer: number | undefined,
  ): { requested?: number; arrived?: number } {
    const arrivals = this.#hostEvents.filter(
      (e) =>
        e.type === 'keyframe-in' &&
        e.at <= keyframeOut &&
        (spatialLayer === undefined || this.#layerOf(e.ssrc) === spatialLayer),
    );
    const arrived = arrivals.at(-1)?.at;
    if (arrived === undefined || arrived < since) return {};
    const requests = this.#hostEvents.filter(
      (e) =>
        e.type === 'keyframe-request-out' &&
        e.at >= since &&
        e.at <= arrived &&
        (spatialLayer === undefined || this.#layerOf(e.ssrc) === spatialLayer),
    );
    return { arrived, requested: requests[0]?.at };
  }

  /** The host's keyframe traffic in [from, to], for reading one join closely. */
  hostEventsBetween(
    from: number,
    to: number,
  ): { at: number; what: string; spatialLayer: number | undefined }[] {
    return this.#hostEvents
      .filter((e) => e.at >= from && e.at <= to)
      .map((e) => ({ at: e.at, what: e.type, spatialLayer: this.#layerOf(e.ssrc) }));
  }

  /** Keyframe requests the server sent to publishers, and keyframes they sent, in [from, to]. */
  hostCounts(from: number, to: number): { requests: number; keyframes: number } {
    const within = this.#hostEvents.filter((e) => e.at >= from && e.at <= to);
    return {
      requests: within.filter((e) => e.type === 'keyframe-request-out').length,
      keyframes: within.filter((e) => e.type === 'keyframe-in').length,
    };
  }

  #layerOf(ssrc: number | undefined): number | undefined {
    return ssrc === undefined ? undefined : this.#hostLayers.get(ssrc);
  }

  /** A worker trace's own timestamp as epoch ms (the event took at least 0 ms to arrive). */
  #traceTime(timestamp: number): number {
    this.#workerClockOffset = Math.min(this.#workerClockOffset, now() - timestamp);
    return timestamp + this.#workerClockOffset;
  }

  #onTransport(transport: types.Transport): void {
    const appData = transport.appData as { identity?: string; direction?: string };
    const identity = appData.identity;
    if (!identity) return;
    if (appData.direction === 'send') {
      transport.observer.on('newproducer', (producer) => this.#onHostProducer(producer));
      return;
    }
    const trace: ServerJoinTrace = { recvTransportCreated: now(), layerChanges: [] };
    this.#byIdentity.set(identity, trace);
    const webRtc = transport as types.WebRtcTransport;
    webRtc.observer.on('icestatechange', (state) => {
      if ((state === 'connected' || state === 'completed') && trace.iceConnected === undefined) {
        trace.iceConnected = now();
      }
    });
    webRtc.observer.on('dtlsstatechange', (state) => {
      if (state === 'connected' && trace.dtlsConnected === undefined) trace.dtlsConnected = now();
    });
    transport.observer.on('newconsumer', (consumer) => {
      if (consumer.kind !== 'video' || trace.videoConsumerCreated !== undefined) return;
      trace.videoConsumerCreated = now();
      consumer.observer.once('resume', () => (trace.videoConsumerResumed = now()));
      consumer.observer.on('layerschange', (layers) => {
        if (trace.videoKeyframeOut !== undefined) return;
        trace.layerChanges.push({ at: now(), spatialLayer: layers?.spatialLayer });
      });
      consumer.observer.on('trace', (event) => {
        if (event.type !== 'keyframe' || trace.videoKeyframeOut !== undefined) return;
        trace.videoKeyframeOut = this.#traceTime(event.timestamp);
        trace.firstSpatialLayer = consumer.currentLayers?.spatialLayer;
      });
      consumer.enableTraceEvent(['keyframe']).catch(() => undefined);
    });
  }

  #onHostProducer(producer: types.Producer): void {
    if (producer.kind !== 'video') return;
    const rids = (producer.rtpParameters.encodings ?? []).map((encoding) => encoding.rid);
    const learn = (ssrc: number | undefined, rid: string | undefined) => {
      const layer = rid === undefined ? -1 : rids.indexOf(rid);
      if (ssrc !== undefined && layer >= 0) this.#hostLayers.set(ssrc, layer);
    };
    // Chromium stops sending the RID header extension after a while; scores carry both.
    producer.observer.on('score', (scores) => {
      for (const score of scores) learn(score.ssrc, score.rid);
    });
    producer.observer.on('trace', (event) => {
      const at = this.#traceTime(event.timestamp);
      const info = event.info as { ssrc?: number; rid?: string } | undefined;
      learn(info?.ssrc, info?.rid);
      if (event.type === 'keyframe' && event.direction === 'in') {
        this.#hostEvents.push({ at, type: 'keyframe-in', ssrc: info?.ssrc });
      } else if ((event.type === 'pli' || event.type === 'fir') && event.direction === 'out') {
        this.#hostEvents.push({ at, type: 'keyframe-request-out', ssrc: info?.ssrc });
      }
    });
    producer.enableTraceEvent(['keyframe', 'pli', 'fir']).catch(() => undefined);
  }
}
