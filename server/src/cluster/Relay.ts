import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import type { Config } from '../config/config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Room } from '../rooms/Room.js';
import { nodeToken } from './nodeAuth.js';

/** What the pulling node offers: its end of the pipe. */
export interface RelayOffer {
  room: string;
  trackId: string;
  /** The pulling node's id, so that its relays close when it dies. */
  node: string;
  ip: string;
  port: number;
  srtpParameters: types.SrtpParameters;
}

/** What the track's node answers: its end of the pipe and what the track carries. */
export interface RelayAnswer {
  relayId: string;
  ip: string;
  port: number;
  srtpParameters: types.SrtpParameters;
  kind: types.MediaKind;
  rtpParameters: types.RtpParameters;
  paused: boolean;
}

const RELAY_REQUEST_TIMEOUT_MS = 5_000;

/** Kept on a pulled producer: where its relay is served from. */
interface RelayHandle {
  nodeUrl: string;
  relayId: string;
}

/**
 * Tracks crossing nodes. A node that needs a track published on another node pulls it: it opens
 * a PipeTransport (SRTP and RTX on: this crosses a network) on the room's origin router and asks
 * the track's node, over HTTP, to open the other end and consume the track into it. The pulled
 * track becomes a producer with the track's own id on the puller's origin, and from there fans
 * out over the puller's workers like a local one.
 */
export class Relay {
  readonly #config: Config;
  readonly #nodeId: string;
  readonly #log: Logger;
  /** Relays this node serves: its pipe transport and consumer per relay, by the pulling node. */
  readonly #served = new Map<
    string,
    { node: string; transport: types.PipeTransport; consumer: types.Consumer; room: Room }
  >();

  constructor(config: Config, nodeId: string, log: Logger) {
    this.#config = config;
    this.#nodeId = nodeId;
    this.#log = log;
  }

  #pipeOptions(): types.PipeTransportOptions {
    const { listenIp, announcedIp } = this.#config.media;
    return { listenIp: { ip: listenIp, announcedIp }, enableSrtp: true, enableRtx: true };
  }

  #authorization(): string {
    return `Bearer ${nodeToken(this.#config.auth.apiKey, this.#config.auth.apiSecret)}`;
  }

  /** Pulls `trackId` from the node at `nodeUrl` into the room's origin router here. */
  async pull(room: Room, nodeUrl: string, trackId: string): Promise<types.Producer> {
    const { router } = await room.routers.liveOrigin();
    const transport = await router.createPipeTransport(this.#pipeOptions());
    try {
      const offer: RelayOffer = {
        room: room.name,
        trackId,
        node: this.#nodeId,
        ip: transport.tuple.localIp,
        port: transport.tuple.localPort,
        srtpParameters: transport.srtpParameters!,
      };
      const response = await fetch(`${nodeUrl}/internal/relays`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: this.#authorization() },
        body: JSON.stringify(offer),
        signal: AbortSignal.timeout(RELAY_REQUEST_TIMEOUT_MS),
      });
      if (!response.ok) {
        throw new Error(`relay refused by ${nodeUrl}: ${response.status} ${await response.text()}`);
      }
      const answer = (await response.json()) as RelayAnswer;
      const release = () => {
        void fetch(`${nodeUrl}/internal/relays/${answer.relayId}`, {
          method: 'DELETE',
          headers: { authorization: this.#authorization() },
          signal: AbortSignal.timeout(RELAY_REQUEST_TIMEOUT_MS),
        }).catch(() => undefined);
      };
      try {
        await transport.connect({
          ip: answer.ip,
          port: answer.port,
          srtpParameters: answer.srtpParameters,
        });
        const producer = await transport.produce({
          id: trackId,
          kind: answer.kind,
          rtpParameters: answer.rtpParameters,
          paused: answer.paused,
          keyFrameRequestDelay: this.#config.media.keyFrameRequestDelayMs,
          appData: { relay: { nodeUrl, relayId: answer.relayId } satisfies RelayHandle },
        });
        producer.observer.once('close', () => {
          transport.close();
          release();
        });
        return producer;
      } catch (error) {
        release();
        throw error;
      }
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /** Serves a pull: opens this end of the pipe and consumes the track into it. */
  async serve(room: Room, offer: RelayOffer): Promise<RelayAnswer> {
    const publisher = [...room.participants.values()].find(
      (p) => !p.remote && !p.closed && p.tracks.has(offer.trackId),
    );
    const track = publisher?.tracks.get(offer.trackId);
    const routerId = publisher?.sendTransport?.appData.routerId as string | undefined;
    const place = routerId ? room.routers.byRouterId(routerId) : undefined;
    if (!track || track.producer.closed || !place) {
      throw new AppError('NOT_FOUND', 'no such track on this node');
    }
    const transport = await place.router.createPipeTransport(this.#pipeOptions());
    try {
      await transport.connect({
        ip: offer.ip,
        port: offer.port,
        srtpParameters: offer.srtpParameters,
      });
      const consumer = await transport.consume({ producerId: offer.trackId });
      consumer.observer.once('close', () => transport.close());
      room.holdLayersFor(consumer);
      const relayId = randomUUID();
      this.#served.set(relayId, { node: offer.node, transport, consumer, room });
      transport.observer.once('close', () => this.#served.delete(relayId));
      return {
        relayId,
        ip: transport.tuple.localIp,
        port: transport.tuple.localPort,
        srtpParameters: transport.srtpParameters!,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
        paused: consumer.producerPaused,
      };
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /** Tells the track's node how many layers this node's viewers of a relayed track need. */
  sendNeed(producer: types.Producer, maxSpatialLayer: number): void {
    const handle = producer.appData.relay as RelayHandle | undefined;
    if (!handle || producer.closed) return;
    void fetch(`${handle.nodeUrl}/internal/relays/${handle.relayId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: this.#authorization() },
      body: JSON.stringify({ maxSpatialLayer }),
      signal: AbortSignal.timeout(RELAY_REQUEST_TIMEOUT_MS),
    }).catch((error: unknown) =>
      this.#log.warn('could not tell a relay its layers', { error: String(error) }),
    );
  }

  /** The pulling node's viewers need layers up to `maxSpatialLayer` (dynacast across nodes). */
  setNeed(relayId: string, maxSpatialLayer: number): boolean {
    const served = this.#served.get(relayId);
    served?.room.setRelayNeed(served.consumer, maxSpatialLayer);
    return served !== undefined;
  }

  /** The puller let go of a relay. */
  release(relayId: string): boolean {
    const served = this.#served.get(relayId);
    served?.transport.close();
    return served !== undefined;
  }

  /** A node died: the relays it pulled from here go. */
  nodeLost(node: string): void {
    for (const served of [...this.#served.values()]) {
      if (served.node === node) served.transport.close();
    }
    this.#log.info('relays to a lost node closed', { node });
  }

  get servedCount(): number {
    return this.#served.size;
  }
}
