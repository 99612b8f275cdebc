import type { types } from 'mediasoup';
import type { JoinResponse, TrackSource } from '../../../client-sdk/src/protocol.js';
import type { Config } from '../config/config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { closedInWorker } from '../media/closedInWorker.js';
import { ProducerLiveness, type LivenessOptions } from '../media/ProducerLiveness.js';
import { createWebRtcTransport, transportOptions } from '../media/transports.js';
import type { MediaWorker } from '../media/WorkerPool.js';
import { toWire } from '../media/wire.js';
import {
  trackInfo,
  type Connection,
  type Participant,
  type PublishedTrack,
} from './Participant.js';
import { consumerPriority, preferredSpatialLayer } from './qualityPolicy.js';
import { RoomStage } from './RoomStage.js';

export interface RoomOptions {
  name: string;
  router: types.Router;
  media: MediaWorker;
  mediaConfig: Config['media'];
  limits: Config['rooms'];
  stageLimits: Config['stage'];
  liveness: LivenessOptions;
  log: Logger;
  onEmpty: (room: Room) => void;
}

/** A live room on one router: who is in it, what they publish, and who receives what. */
export class Room {
  readonly name: string;
  readonly participants = new Map<string, Participant>();
  /** Mic-link: who may publish besides the hosts, raised hands and invitations. */
  readonly stage: RoomStage;
  readonly #options: RoomOptions;
  readonly #liveness: ProducerLiveness;
  #router: types.Router;
  #media: MediaWorker;
  #closed = false;

  constructor(options: RoomOptions) {
    this.name = options.name;
    this.#router = options.router;
    this.#media = options.media;
    this.#options = options;
    this.stage = new RoomStage(this, options.stageLimits, options.log);
    this.#liveness = new ProducerLiveness(options.liveness);
  }

  /** The room's router; a new one after the room moved off a dead worker. */
  get router(): types.Router {
    return this.#router;
  }

  get media(): MediaWorker {
    return this.#media;
  }

  /**
   * The worker under this room died (its transports, producers and consumers with it). Moves the
   * room to `router` on a healthy worker: every participant keeps its place, seat and
   * subscriptions to come, gets new transports and is told to publish again.
   */
  async moveTo(router: types.Router, media: MediaWorker): Promise<void> {
    this.#router = router;
    this.#media = media;
    const present = [...this.participants.values()].filter((p) => p.joined && !p.closed);
    await Promise.all(
      present.map((participant) =>
        participant.requests.run(() => this.#remakeTransports(participant)),
      ),
    );
  }

  async #remakeTransports(participant: Participant): Promise<void> {
    for (const transport of participant.transports.values()) transport.close();
    const [recvTransport, sendTransport] = await Promise.all([
      participant.grants.canSubscribe ? this.createTransport(participant, 'recv') : undefined,
      participant.mayPublishAnything ? this.createTransport(participant, 'send') : undefined,
    ]);
    participant.recvTransport = recvTransport;
    participant.emit('mediaReset', {
      routerRtpCapabilities: toWire.rtpCapabilities(this.#router.rtpCapabilities),
      recvTransport: recvTransport ? transportOptions(recvTransport) : null,
      sendTransport: sendTransport ? transportOptions(sendTransport) : null,
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Takes a newly connected participant in; an identity already present is replaced. */
  admit(participant: Participant): void {
    if (this.#closed) throw new AppError('INVALID_STATE', 'room is closing');
    const existing = this.participants.get(participant.identity);
    if (existing) {
      existing.disconnect({ code: 'INVALID_STATE', message: 'joined from another connection' });
      this.remove(existing);
    }
    if (this.participants.size >= this.#options.limits.maxParticipants) {
      throw new AppError('ROOM_FULL', 'room is full');
    }
    this.participants.set(participant.identity, participant);
  }

  async join(
    participant: Participant,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<JoinResponse> {
    if (participant.joined) throw new AppError('INVALID_STATE', 'already joined');
    this.stage.seatOnJoin(participant);
    participant.rtpCapabilities = rtpCapabilities;
    let recvTransport: types.WebRtcTransport | undefined;
    let sendTransport: types.WebRtcTransport | undefined;
    try {
      [recvTransport, sendTransport] = await Promise.all([
        participant.grants.canSubscribe ? this.createTransport(participant, 'recv') : undefined,
        participant.mayPublishAnything ? this.createTransport(participant, 'send') : undefined,
      ]);
      if (participant.closed) throw new AppError('INVALID_STATE', 'participant left');
    } catch (error) {
      // A failed join holds nothing: no seat, no half-made transport.
      this.stage.seatRevoked(participant);
      for (const transport of participant.transports.values()) transport.close();
      throw error;
    }
    participant.recvTransport = recvTransport;
    participant.joined = true;
    if (!participant.grants.hidden) {
      const info = participant.info();
      this.#toOthers(participant, (other) => other.emit('participantJoined', info));
    }
    this.stage.joined(participant);
    return {
      self: participant.info(),
      participants: this.#visibleOthers(participant).map((p) => p.info()),
      stage: this.stage.info(),
      handQueue: this.stage.handQueueFor(participant),
      recvTransport: recvTransport ? transportOptions(recvTransport) : null,
      sendTransport: sendTransport ? transportOptions(sendTransport) : null,
    };
  }

  /** Pushes a consumer for every track already published; called right after the join ack. */
  async subscribeToExisting(subscriber: Participant): Promise<void> {
    for (const publisher of this.#visibleOthers(subscriber)) {
      for (const track of publisher.tracks.values())
        await this.subscribe(subscriber, publisher, track);
    }
  }

  async createTransport(
    participant: Participant,
    direction: 'send' | 'recv',
  ): Promise<types.WebRtcTransport> {
    if (participant.transports.size >= this.#options.limits.maxTransportsPerParticipant) {
      throw new AppError('LIMIT_EXCEEDED', 'too many transports');
    }
    const transport = await createWebRtcTransport(
      this.#router,
      this.#media.webRtcServer,
      this.#options.mediaConfig,
      {
        identity: participant.identity,
        direction,
      },
    );
    if (participant.closed) {
      transport.close();
      throw new AppError('INVALID_STATE', 'participant left');
    }
    participant.transports.set(transport.id, transport);
    transport.observer.once('close', () => participant.transports.delete(transport.id));
    return transport;
  }

  async publish(
    publisher: Participant,
    producer: types.Producer,
    source: TrackSource,
  ): Promise<void> {
    const track: PublishedTrack = { producer, source, pausedByOwner: false };
    // Listed before the pause below, so that a host's unmute racing this publish finds it.
    publisher.tracks.set(producer.id, track);
    await this.stage.applyHostMute(publisher, producer, source);
    producer.observer.once('close', () => {
      if (publisher.tracks.delete(producer.id)) {
        const event = { identity: publisher.identity, trackId: producer.id };
        this.#toOthers(publisher, (other) => other.emit('trackUnpublished', event));
      }
    });
    this.#liveness.watch(producer, {
      onStalled: (stalled) => {
        const event = { identity: publisher.identity, trackId: producer.id, stalled };
        publisher.log.warn(stalled ? 'track stalled' : 'track flows again', {
          trackId: producer.id,
        });
        this.#toOthers(publisher, (other) => other.emit('trackStalled', event));
      },
      onDead: () => {
        publisher.log.warn('track sent nothing for too long; closing it', { trackId: producer.id });
        producer.close();
      },
    });
    const published = { identity: publisher.identity, track: trackInfo(track) };
    this.#toOthers(publisher, (other) => other.emit('trackPublished', published));
    await Promise.all(
      this.#visibleOthers(publisher, true).map((subscriber) =>
        subscriber.requests.run(() => this.subscribe(subscriber, publisher, track)),
      ),
    );
  }

  /** Creates a paused consumer of `track` for `subscriber` and tells the subscriber about it. */
  async subscribe(
    subscriber: Participant,
    publisher: Participant,
    track: PublishedTrack,
  ): Promise<void> {
    const transport = subscriber.recvTransport;
    const capabilities = subscriber.rtpCapabilities;
    if (!transport || !capabilities || subscriber.closed || track.producer.closed) return;
    if (subscriber.isSubscribedTo(track.producer.id)) return;
    if (subscriber.subscriptions.size >= this.#options.limits.maxConsumersPerParticipant) {
      subscriber.log.warn('consumer cap reached; not subscribing', { trackId: track.producer.id });
      return;
    }
    if (
      !this.#router.canConsume({ producerId: track.producer.id, rtpCapabilities: capabilities })
    ) {
      subscriber.log.warn('cannot consume track with these capabilities', {
        trackId: track.producer.id,
      });
      return;
    }
    const consumer = await transport.consume({
      producerId: track.producer.id,
      rtpCapabilities: capabilities,
      paused: true,
    });
    const spatialLayers = track.producer.rtpParameters.encodings?.length ?? 1;
    try {
      await consumer.setPriority(consumerPriority(publisher.role, consumer.kind));
    } catch (error) {
      // The subscriber or the track went away meanwhile: nothing left to set up.
      if (consumer.closed || closedInWorker(error)) return;
      throw error;
    }
    const subscription = {
      consumer,
      publisherIdentity: publisher.identity,
      spatialLayers,
      quality: 'auto' as const,
      viewportHeight: undefined,
    };
    subscriber.subscriptions.set(consumer.id, subscription);
    const consumerId = consumer.id;
    const forget = () => subscriber.subscriptions.delete(consumerId);
    consumer.on('transportclose', forget);
    consumer.on('producerclose', () => {
      forget();
      subscriber.emit('consumerClosed', { consumerId });
    });
    consumer.on('producerpause', () => subscriber.emit('consumerPaused', { consumerId }));
    consumer.on('producerresume', () => subscriber.emit('consumerResumed', { consumerId }));
    consumer.on('layerschange', (layers) =>
      subscriber.emit('consumerLayersChanged', {
        consumerId,
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      }),
    );
    consumer.on('score', (score) =>
      subscriber.emit('consumerScore', {
        consumerId,
        score: score.score,
        producerScore: score.producerScore,
      }),
    );
    subscriber.emit('newConsumer', {
      consumerId,
      trackId: track.producer.id,
      identity: publisher.identity,
      kind: consumer.kind,
      source: track.source,
      rtpParameters: toWire.rtpParameters(consumer.rtpParameters),
      producerPaused: consumer.producerPaused,
    });
  }

  /** Re-applies the subscriber's quality wishes to one simulcast consumer. */
  async applyPreferences(subscriber: Participant, consumerId: string): Promise<void> {
    const subscription = subscriber.subscription(consumerId);
    if (subscription.consumer.type !== 'simulcast') return;
    const spatialLayer = preferredSpatialLayer(
      subscription.spatialLayers,
      subscription.quality,
      subscription.viewportHeight,
    );
    await subscription.consumer.setPreferredLayers({ spatialLayer, temporalLayer: 2 });
  }

  /**
   * The participant's connection dropped without a goodbye: keep it (seat, tracks, consumers)
   * for the grace period so the client can resume; nobody else notices unless it never returns.
   */
  suspend(participant: Participant, graceMs: number): void {
    if (this.participants.get(participant.identity) !== participant) return;
    participant.suspend(graceMs, () => {
      participant.log.info('participant did not come back; removing it');
      this.remove(participant);
    });
  }

  resume(participant: Participant, connection: Connection): void {
    participant.resume(connection);
  }

  /** Takes a participant out: closes its media, tells the others, reports an empty room. */
  remove(participant: Participant): void {
    if (this.participants.get(participant.identity) !== participant) return;
    this.participants.delete(participant.identity);
    const wasJoined = participant.joined;
    participant.close();
    if (wasJoined && !participant.grants.hidden) {
      const event = { identity: participant.identity };
      this.#toOthers(participant, (other) => other.emit('participantLeft', event));
    }
    this.stage.left(participant);
    if (this.participants.size === 0) this.#options.onEmpty(this);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stage.close();
    for (const participant of this.participants.values()) participant.close();
    this.participants.clear();
    this.#liveness.stop();
    this.#router.close();
  }

  #visibleOthers(self: Participant, includeHidden = false): Participant[] {
    return [...this.participants.values()].filter(
      (p) => p !== self && p.joined && !p.closed && (includeHidden || !p.grants.hidden),
    );
  }

  /** Sends something to every other joined participant (hidden ones too: they may watch). */
  #toOthers(from: Participant, send: (other: Participant) => void): void {
    for (const other of this.#visibleOthers(from, true)) send(other);
  }
}
