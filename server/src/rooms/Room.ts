import type { types } from 'mediasoup';
import type { JoinResponse, TrackSource } from '../../../client-sdk/src/protocol.js';
import type { Config } from '../config/config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { closedInWorker } from '../media/closedInWorker.js';
import { ProducerLiveness, type LivenessOptions } from '../media/ProducerLiveness.js';
import {
  createWebRtcTransport,
  transportOptions,
  type TransportAppData,
} from '../media/transports.js';
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

/** A transport asked of a worker that dies meanwhile is asked again of the next router. */
const MAX_TRANSPORT_ATTEMPTS = 3;

/*
 * Concurrency model (the rule every method here follows)
 *
 * - A participant's own requests run one at a time on its queue (`participant.requests`), and so
 *   does the work done *for* it: creating its consumers, remaking its transports after a move.
 * - A task on one participant's queue never awaits another participant's queue. Work for someone
 *   else is handed to that participant's queue and not awaited (`#scheduleReconcile`,
 *   `#scheduleMediaReset`). Two publishers therefore cannot wait on each other, and a `produce`
 *   is answered once its producer exists and is announced, however large the audience.
 * - Subscriptions are reconciled, not replayed: `#reconcile` compares what a subscriber should
 *   receive (every track of every other joined participant) with the consumers it has and makes
 *   the missing ones. A publish, a join or a move only marks subscribers; a subscriber marked
 *   many times gets one pass.
 * - Room-wide decisions that must not interleave are synchronous: the stage (rooms/Stage.ts) is
 *   a synchronous state machine, and `moveTo` switches the router in one step and hands each
 *   participant's transport remake to its own queue. Nothing waits on a room-wide lock.
 * - Every await can find the world changed: after it, a step checks that its participant,
 *   transport or producer is still there, and drops its work quietly (closing what it made) if not.
 */

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
  /** Subscribers with a reconcile pass already waiting on their queue. */
  readonly #reconcileQueued = new WeakSet<Participant>();
  /** Participants with a media reset already waiting on their queue. */
  readonly #resetQueued = new WeakSet<Participant>();
  /** Set while the room's worker is dead and the room waits for its next router (moveTo). */
  #moving: Deferred | undefined;

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
   * room to `router` on a healthy worker at once: every participant keeps its place, seat and
   * subscriptions to come; each gets new transports on its own queue and is told to publish
   * again. Called again if the new worker dies too; the last router wins.
   */
  moveTo(router: types.Router, media: MediaWorker): void {
    this.#router = router;
    this.#media = media;
    this.#moving?.resolve();
    this.#moving = undefined;
    for (const participant of this.participants.values()) this.#scheduleMediaReset(participant);
  }

  /**
   * The room's worker died and a move has begun: until `moveTo`, whoever needs a transport
   * waits for the new router instead of failing on the dead one (a join, a guest's seat).
   */
  routerLost(): void {
    if (this.#moving || this.#closed) return;
    this.#moving = deferred();
    // Rejected if the room closes instead; only those waiting for it care.
    this.#moving.promise.catch(() => undefined);
  }

  /** The current router once it is alive: waits for a move under way. */
  async #liveRouter(): Promise<types.Router> {
    while (this.#router.closed) {
      if (this.#closed || !this.#moving) throw new AppError('UNAVAILABLE', 'media server lost');
      await this.#moving.promise;
    }
    return this.#router;
  }

  #scheduleMediaReset(participant: Participant): void {
    if (this.#resetQueued.has(participant)) return;
    this.#resetQueued.add(participant);
    participant.requests
      .run(async () => {
        this.#resetQueued.delete(participant);
        await this.#remakeTransports(participant);
      })
      .catch((error: unknown) => {
        participant.log.error('could not give a participant new transports; removing it', {
          error: String(error),
        });
        participant.disconnect({ code: 'UNAVAILABLE', message: 'media server lost' });
        this.remove(participant);
      });
  }

  /** Runs on the participant's own queue, after whatever it was doing (a join, a produce). */
  async #remakeTransports(participant: Participant): Promise<void> {
    if (!participant.joined || participant.closed) return;
    if (participant.mediaRouterId === this.#router.id) return;
    for (const transport of participant.transports.values()) transport.close();
    let recvTransport: types.WebRtcTransport<TransportAppData> | undefined;
    let sendTransport: types.WebRtcTransport<TransportAppData> | undefined;
    try {
      // Waits for a live router if the room is moving again.
      [recvTransport, sendTransport] = await this.#createMediaTransports(participant);
    } catch (error) {
      if (participant.closed) return;
      throw error;
    }
    const router = this.#router;
    if ([recvTransport, sendTransport].some((t) => t && t.appData.routerId !== router.id)) {
      // The room moved again meanwhile; that move's reset, queued behind this one, remakes them.
      recvTransport?.close();
      sendTransport?.close();
      return;
    }
    participant.recvTransport = recvTransport;
    participant.mediaRouterId = router.id;
    participant.emit('mediaReset', {
      routerRtpCapabilities: toWire.rtpCapabilities(router.rtpCapabilities),
      recvTransport: recvTransport ? transportOptions(recvTransport) : null,
      sendTransport: sendTransport ? transportOptions(sendTransport) : null,
    });
    // Tracks already published again on the new router: consume them now.
    await this.#reconcile(participant);
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
      [recvTransport, sendTransport] = await this.#createMediaTransports(participant);
    } catch (error) {
      // A failed join holds no seat either.
      this.stage.seatRevoked(participant);
      throw error;
    }
    participant.recvTransport = recvTransport;
    // Made on a router the room has left since (its worker died): the move's reset, queued
    // behind this join, remakes them.
    participant.mediaRouterId = this.#router.id;
    for (const transport of [recvTransport, sendTransport]) {
      if (transport && transport.appData.routerId !== this.#router.id) {
        participant.mediaRouterId = undefined;
      }
    }
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

  /**
   * The transports a participant's grants and seat call for: receiving, sending, or both. Throws
   * if the participant left meanwhile or a transport cannot be made; then none is left open.
   */
  async #createMediaTransports(
    participant: Participant,
  ): Promise<
    [
      types.WebRtcTransport<TransportAppData> | undefined,
      types.WebRtcTransport<TransportAppData> | undefined,
    ]
  > {
    const made = await Promise.allSettled([
      participant.grants.canSubscribe ? this.createTransport(participant, 'recv') : undefined,
      participant.mayPublishAnything ? this.createTransport(participant, 'send') : undefined,
    ]);
    const failed = made.find((result) => result.status === 'rejected');
    if (failed || participant.closed) {
      for (const transport of participant.transports.values()) transport.close();
      throw failed ? failed.reason : new AppError('INVALID_STATE', 'participant left');
    }
    const [recv, send] = made.map((result) =>
      result.status === 'fulfilled' ? result.value : undefined,
    );
    return [recv, send];
  }

  /** Consumers for every track already published; runs on the joiner's queue after the join ack. */
  async subscribeToExisting(subscriber: Participant): Promise<void> {
    await this.#reconcile(subscriber);
  }

  async createTransport(
    participant: Participant,
    direction: 'send' | 'recv',
  ): Promise<types.WebRtcTransport<TransportAppData>> {
    // Transports still being made count too: a join makes two at once.
    const held = participant.transports.size + participant.pendingTransports;
    if (held >= this.#options.limits.maxTransportsPerParticipant) {
      throw new AppError('LIMIT_EXCEEDED', 'too many transports');
    }
    participant.pendingTransports += 1;
    let transport: types.WebRtcTransport<TransportAppData>;
    try {
      transport = await this.#createTransportOnLiveRouter(participant, direction);
    } finally {
      participant.pendingTransports -= 1;
    }
    if (participant.closed) {
      transport.close();
      throw new AppError('INVALID_STATE', 'participant left');
    }
    participant.transports.set(transport.id, transport);
    transport.observer.once('close', () => participant.transports.delete(transport.id));
    return transport;
  }

  /** If the worker dies under the request, the transport is made on the router the room moves to. */
  async #createTransportOnLiveRouter(
    participant: Participant,
    direction: 'send' | 'recv',
  ): Promise<types.WebRtcTransport<TransportAppData>> {
    for (let attempt = 1; ; attempt += 1) {
      const router = await this.#liveRouter();
      try {
        return await createWebRtcTransport(
          router,
          this.#media.webRtcServer,
          this.#options.mediaConfig,
          { identity: participant.identity, direction, routerId: router.id },
          // A REST bitrate cap outlives the transport it was set on (a move makes new ones).
          { maxOutgoingBitrate: participant.maxOutgoingBitrate },
        );
      } catch (error) {
        if (!router.closed || attempt >= MAX_TRANSPORT_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Lists and announces a producer the publisher just made, on the publisher's queue. Returns
   * once it is announced; every subscriber's consumer is made later, on that subscriber's queue.
   * A failure closes the producer before anyone has heard of it.
   */
  async publish(
    publisher: Participant,
    producer: types.Producer,
    source: TrackSource,
  ): Promise<void> {
    const track: PublishedTrack = { producer, source, pausedByOwner: false };
    // Listed before the pause below, so that a host's unmute racing this publish finds it.
    publisher.tracks.set(producer.id, track);
    try {
      await this.stage.applyHostMute(publisher, producer, source);
      if (producer.closed || publisher.closed) {
        throw new AppError('INVALID_STATE', 'track closed before it was published');
      }
    } catch (error) {
      publisher.tracks.delete(producer.id);
      producer.close();
      throw error;
    }
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
    this.#toOthers(publisher, (other) => {
      other.emit('trackPublished', published);
      this.#scheduleReconcile(other);
    });
  }

  /**
   * Queues one reconcile pass on the subscriber's own queue (none if one is already waiting).
   * It enters the queue on the next turn of the event loop, so the request that caused it (a
   * produce, say) is answered before any consumer is prepared.
   */
  #scheduleReconcile(subscriber: Participant): void {
    if (this.#reconcileQueued.has(subscriber)) return;
    this.#reconcileQueued.add(subscriber);
    setImmediate(() => {
      subscriber.requests
        .run(async () => {
          this.#reconcileQueued.delete(subscriber);
          await this.#reconcile(subscriber);
        })
        .catch((error: unknown) =>
          subscriber.log.error('could not update subscriptions', { error: String(error) }),
        );
    });
  }

  /** Desired (every track of every other visible participant) against actual (consumers). */
  async #reconcile(subscriber: Participant): Promise<void> {
    // One snapshot per pass, so that under a consumer cap the tracks are taken in a stable order
    // (a track published during the pass waits for the next one, which its publish queued).
    const wanted = this.#visibleOthers(subscriber).flatMap((publisher) =>
      [...publisher.tracks.values()].map((track) => ({ publisher, track })),
    );
    for (const { publisher, track } of wanted) {
      if (subscriber.closed || !subscriber.joined) return;
      try {
        await this.#subscribe(subscriber, publisher, track);
      } catch (error) {
        subscriber.log.error('could not subscribe to a track', {
          trackId: track.producer.id,
          error: String(error),
        });
      }
    }
  }

  /** Creates a paused consumer of `track` for `subscriber` and tells the subscriber about it. */
  async #subscribe(
    subscriber: Participant,
    publisher: Participant,
    track: PublishedTrack,
  ): Promise<void> {
    const transport = subscriber.recvTransport;
    const capabilities = subscriber.rtpCapabilities;
    if (!transport || transport.closed || !capabilities || subscriber.closed) return;
    if (track.producer.closed || subscriber.isSubscribedTo(track.producer.id)) return;
    if (subscriber.subscriptions.size >= this.#options.limits.maxConsumersPerParticipant) {
      // Remembered, so that a consumer closing later makes room for this track (producerclose).
      if (!subscriber.skippedForCap) subscriber.log.warn('consumer cap reached; not subscribing');
      subscriber.skippedForCap = true;
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
    let consumer: types.Consumer | undefined;
    try {
      consumer = await transport.consume({
        producerId: track.producer.id,
        rtpCapabilities: capabilities,
        paused: true,
      });
      await consumer.setPriority(consumerPriority(publisher.role, consumer.kind));
    } catch (error) {
      consumer?.close();
      // The subscriber, its transport or the track went away meanwhile: nothing to set up.
      if (transport.closed || track.producer.closed || closedInWorker(error)) return;
      throw error;
    }
    if (consumer.closed) return;
    const spatialLayers = track.producer.rtpParameters.encodings?.length ?? 1;
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
      if (subscriber.skippedForCap) {
        subscriber.skippedForCap = false;
        this.#scheduleReconcile(subscriber);
      }
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
    this.#moving?.reject(new AppError('UNAVAILABLE', 'media server lost'));
    this.#moving = undefined;
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

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/** Promise.withResolvers, which Node 20 lacks. */
function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}
