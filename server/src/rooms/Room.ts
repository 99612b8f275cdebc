import type { types } from 'mediasoup';
import type { JoinResponse, TrackSource } from '@livestage/protocol';
import type { Config, InteractionLimits } from '../config/config.js';
import { AppError } from '../errors.js';
import { isInteractionMessage, type InteractionSend } from '../interaction/messages.js';
import { RoomChat } from '../interaction/RoomChat.js';
import { RoomData } from '../interaction/RoomData.js';
import { RoomReactions } from '../interaction/RoomReactions.js';
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
import { Dynacast } from './Dynacast.js';
import {
  trackInfo,
  type Connection,
  type Participant,
  type PublishedTrack,
  type Subscription,
} from './Participant.js';
import { consumerPriority, preferredSpatialLayer } from './qualityPolicy.js';
import type { RoomRouter, RoomRouters } from './RoomRouters.js';
import { RoomStage } from './RoomStage.js';
import { RoomEvents } from './RoomEvents.js';
import type { StageSyncFactory } from './StageSync.js';
import {
  DEFAULT_SPEAKER_OPTIONS,
  RoomSpeakers,
  type SpeakerOptions,
} from '../speakers/RoomSpeakers.js';

/**
 * In a cluster, how the room tells the other nodes about its own participants (not the stand-ins
 * for remote ones): who is here and what they publish, and who left.
 */
export interface RoomClusterLink {
  memberChanged(participant: Participant): void;
  /** Replaces the stage's `left`: the seat is forgotten only if it really left the cluster. */
  memberLeft(participant: Participant): void;
  /**
   * Dynacast for a track relayed in from another node: the highest layer this node's viewers
   * need, for the track's own node to count as one more consumer's need.
   */
  relayNeed(publisher: Participant, trackId: string, maxSpatialLayer: number): void;
  /** Chat, reactions and data to every node of the room, each applying them (applyInteraction). */
  readonly sendInteraction?: InteractionSend;
}

export interface RoomOptions {
  name: string;
  routers: RoomRouters;
  mediaConfig: Config['media'];
  limits: Config['rooms'];
  stageLimits: Config['stage'];
  liveness: LivenessOptions;
  log: Logger;
  onEmpty: (room: Room) => void;
  /** How stage transitions are committed; default: in this process (LocalStageSync). */
  stageSync?: StageSyncFactory;
  /** Observers of what happens here (metrics, webhooks). */
  events?: RoomEvents;
  /** Chat, reactions and data messages. */
  interaction: InteractionLimits;
  /** Active speaker measurement (ACTIVE_SPEAKER_*); default 300 ms, -70 dBov. */
  speakers?: SpeakerOptions;
}

/** A transport asked of a worker that dies meanwhile is asked again of the next router. */
const MAX_TRANSPORT_ATTEMPTS = 3;
/** A publisher is told to drop a layer only after nobody needed it for this long. */
const DYNACAST_LOWER_AFTER_MS = 2_000;

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
 * - Room-wide decisions that must not interleave are committed in one step: a stage transition
 *   (rooms/Stage.ts, a pure state machine) is committed by the room's StageSync (in this process,
 *   or compare-and-set in Redis when the room spans nodes) and its effects applied on every node
 *   to that node's participants; a router lost with its worker is replaced in RoomRouters in one
 *   step, after which each participant's transport remake is handed to its own queue
 *   (`routersChanged`). Nothing waits on a room-wide lock.
 * - In a cluster, participants connected to other nodes are stand-ins here (`remote`): their
 *   tracks are relayed in (cluster/ClusterRoom), and they are never reconciled or reset here.
 * - Media spreads over workers (RoomRouters): publishers send to the origin router; a viewer's
 *   receiving transport is on the router it was placed on, and a track is piped there when the
 *   viewer's consumer needs it (`#subscribe`).
 * - Every await can find the world changed: after it, a step checks that its participant,
 *   transport or producer is still there, and drops its work quietly (closing what it made) if not.
 */

/** A live room over one or more routers: who is in it, what they publish, who receives what. */
export class Room {
  readonly name: string;
  readonly participants = new Map<string, Participant>();
  /** Mic-link: who may publish besides the hosts, raised hands and invitations. */
  readonly stage: RoomStage;
  readonly routers: RoomRouters;
  readonly lifecycle: RoomEvents;
  readonly chat: RoomChat;
  readonly reactions: RoomReactions;
  readonly data: RoomData;
  /** Who speaks (microphones on the origin router), told to the local participants. */
  readonly speakers: RoomSpeakers;
  readonly #options: RoomOptions;
  readonly #liveness: ProducerLiveness;
  readonly #dynacast: Dynacast;
  readonly #viewerCountTimer: NodeJS.Timeout;
  #viewerCountSent = 0;
  #closed = false;
  #cluster: RoomClusterLink | undefined;
  /** Subscribers with a reconcile pass already waiting on their queue. */
  readonly #reconcileQueued = new WeakSet<Participant>();
  /** Participants with a media reset already waiting on their queue. */
  readonly #resetQueued = new WeakSet<Participant>();

  constructor(options: RoomOptions) {
    this.name = options.name;
    this.routers = options.routers;
    this.lifecycle = options.events ?? new RoomEvents();
    this.#options = options;
    this.stage = new RoomStage(this, options.stageLimits, options.log, {
      sync: options.stageSync,
    });
    this.#liveness = new ProducerLiveness(options.liveness);
    this.#dynacast = new Dynacast({
      enabled: options.mediaConfig.dynacast,
      lowerAfterMs: DYNACAST_LOWER_AFTER_MS,
    });
    this.#viewerCountTimer = setInterval(
      () => this.#sendViewerCount(),
      options.limits.viewerCountIntervalMs,
    );
    this.#viewerCountTimer.unref();
    // In one process an interaction message is applied at once; in a cluster, as the bus brings it.
    const send: InteractionSend = async (message) => {
      const viaCluster = this.#cluster?.sendInteraction;
      if (viaCluster) await viaCluster(message);
      else this.applyInteraction(message);
    };
    const limits = options.interaction;
    this.chat = new RoomChat({
      room: this,
      limits,
      send,
      onAccepted: () => this.lifecycle.tell('chatMessage', this.name, 'accepted'),
      onShed: () => this.lifecycle.tell('chatMessage', this.name, 'shed'),
    });
    this.reactions = new RoomReactions({
      room: this,
      intervalMs: limits.reactionIntervalMs,
      perSecond: limits.reactionsPerSecond,
      requireUnmuted: (participant) => this.chat.requireUnmuted(participant),
      send,
      log: options.log,
    });
    this.data = new RoomData({
      room: this,
      perSecond: limits.dataPerSecond,
      roomPerSecond: limits.dataRoomPerSecond,
      requireUnmuted: (participant) => this.chat.requireUnmuted(participant),
      send,
    });
    this.speakers = new RoomSpeakers({
      routers: options.routers,
      participants: this.participants,
      options: options.speakers ?? DEFAULT_SPEAKER_OPTIONS,
      log: options.log,
    });
  }

  attachCluster(link: RoomClusterLink): void {
    this.#cluster = link;
  }

  /** Chat, reactions or data that every node of the room delivers to its own participants. */
  applyInteraction(message: unknown): void {
    if (this.#closed || !isInteractionMessage(message)) return;
    if (message.type === 'reactions') this.reactions.apply(message);
    else if (message.type === 'data') this.data.apply(message);
    else this.chat.apply(message);
  }

  /** Participants connected to this node (not stand-ins for other nodes'). */
  get hasLocalParticipants(): boolean {
    for (const participant of this.participants.values()) if (!participant.remote) return true;
    return false;
  }

  /** The origin router (where publishers are); a new one after its worker died. */
  get router(): types.Router {
    return this.routers.origin.router;
  }

  /** The origin's worker. */
  get media(): MediaWorker {
    return this.routers.origin.media;
  }

  get originWorkerIndex(): number {
    return this.routers.origin.media.index;
  }

  /** The worker a participant receives media from (its receiving transport's). */
  workerIndexOf(identity: string): number | undefined {
    const transport = this.participants.get(identity)?.recvTransport;
    if (!transport || transport.closed) return undefined;
    return this.routers.byRouterId(transport.appData.routerId as string)?.media.index;
  }

  /** Dynacast's current wish for a track: encode layers 0..this. */
  layersNeeded(trackId: string): number | undefined {
    return this.#dynacast.needed(trackId);
  }

  /**
   * A router of the room died with its worker and its replacement is in place (RoomRouters):
   * whoever had a transport on it gets new ones on its own queue and is told to publish again;
   * everyone else's reset finds its transports alive and does nothing.
   */
  routersChanged(): void {
    this.speakers.routersChanged();
    for (const participant of this.participants.values()) this.#scheduleMediaReset(participant);
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
    if (hasLiveTransports(participant)) return;
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
    if ([recvTransport, sendTransport].some((t) => t?.closed)) {
      // A router died again meanwhile; that loss's reset, queued behind this one, remakes them.
      recvTransport?.close();
      sendTransport?.close();
      return;
    }
    participant.recvTransport = recvTransport;
    participant.emit('mediaReset', {
      // Every router of the room has the same codecs, so the same capabilities.
      routerRtpCapabilities: toWire.rtpCapabilities(this.router.rtpCapabilities),
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
    if (existing?.remote) {
      // Connected elsewhere until now (it moved, or its node died): the others already know it.
      this.removeQuietly(existing);
      participant.movedIn = true;
    } else if (existing) {
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
    await this.stage.seatOnJoin(participant);
    participant.rtpCapabilities = rtpCapabilities;
    let recvTransport: types.WebRtcTransport | undefined;
    let sendTransport: types.WebRtcTransport | undefined;
    try {
      [recvTransport, sendTransport] = await this.#createMediaTransports(participant);
    } catch (error) {
      // A failed join holds no seat either.
      await this.stage.seatRevoked(participant);
      throw error;
    }
    // A transport made on a router that died since is remade by the reset its loss queued
    // behind this join.
    participant.recvTransport = recvTransport;
    participant.joined = true;
    this.#announceJoin(participant, participant.movedIn);
    this.#cluster?.memberChanged(participant);
    this.lifecycle.tell('participantJoined', this.name, participant.info());
    this.stage.joined(participant);
    return {
      self: participant.info(),
      participants: this.#visibleOthers(participant)
        .filter((other) => this.#knows(participant, other))
        .map((p) => p.info()),
      stage: this.stage.info(),
      handQueue: this.stage.handQueueFor(participant),
      recvTransport: recvTransport ? transportOptions(recvTransport) : null,
      sendTransport: sendTransport ? transportOptions(sendTransport) : null,
      viewerCount: this.#viewerCount(),
      chat: this.chat.stateFor(participant),
      speakers: this.speakers.current.speakers,
    };
  }

  /** Past the presence limit, the audience does not hear of each other (N² messages). */
  get #large(): boolean {
    return this.participants.size > this.#options.limits.audiencePresenceLimit;
  }

  /** Does `viewer` hear of `subject`'s presence? Hosts see everyone; the audience, who matters. */
  #knows(viewer: Participant, subject: Participant): boolean {
    return viewer.role === 'host' || subject.knownToAudience || subject.role !== 'audience';
  }

  #announceJoin(participant: Participant, quietly = false): void {
    if (participant.grants.hidden) return;
    participant.knownToAudience = !this.#large || participant.role !== 'audience';
    if (quietly) return;
    const info = participant.info();
    this.#toOthers(participant, (other) => {
      if (this.#knows(other, participant)) other.emit('participantJoined', info);
    });
  }

  /** From the stage: a guest everyone must see, including an audience that never heard of it. */
  cameOnStage(participant: Participant): void {
    if (participant.knownToAudience || participant.grants.hidden || !participant.joined) return;
    participant.knownToAudience = true;
    const info = participant.info();
    this.#toOthers(participant, (other) => {
      if (other.role !== 'host') other.emit('participantJoined', info);
    });
  }

  /** How many watch: the audience (joined, not hidden, not on stage), cluster-wide. */
  get viewerCount(): number {
    return this.#viewerCount();
  }

  /** The audience: joined, not hidden, not on stage. */
  #viewerCount(): number {
    let count = 0;
    for (const p of this.participants.values()) {
      if (p.joined && !p.closed && !p.grants.hidden && p.role === 'audience') count += 1;
    }
    return count;
  }

  #sendViewerCount(): void {
    const count = this.#viewerCount();
    if (count === this.#viewerCountSent) return;
    this.#viewerCountSent = count;
    for (const participant of this.participants.values()) {
      if (participant.joined) participant.emit('viewerCount', { count });
    }
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

  /** If the worker dies under the request, the transport is made on the router that replaces it. */
  async #createTransportOnLiveRouter(
    participant: Participant,
    direction: 'send' | 'recv',
  ): Promise<types.WebRtcTransport<TransportAppData>> {
    for (let attempt = 1; ; attempt += 1) {
      const { router, media } = await this.#routerFor(participant, direction);
      try {
        return await createWebRtcTransport(
          router,
          media.webRtcServer,
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
   * Publishers send to the origin. Hosts and guests receive there too (they are few, and it
   * needs no pipe); the audience is placed by load (RoomRouters.placeViewer).
   */
  async #routerFor(participant: Participant, direction: 'send' | 'recv'): Promise<RoomRouter> {
    if (direction === 'send' || participant.role !== 'audience') {
      return this.routers.liveOrigin();
    }
    const expected = Math.max(
      1,
      this.#visibleOthers(participant).reduce(
        (tracks, publisher) => tracks + publisher.tracks.size,
        0,
      ),
    );
    const { place, release } = await this.routers.placeViewer(expected);
    participant.releasePlacement?.();
    participant.releasePlacement = release;
    if (participant.closed) release();
    return place;
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
    // Screen-share audio is not someone speaking.
    if (source === 'microphone') this.speakers.add(publisher.identity, producer);
    producer.observer.once('close', () => {
      this.#dynacast.forget(producer.id);
      if (publisher.tracks.delete(producer.id)) {
        const event = { identity: publisher.identity, trackId: producer.id };
        this.#toOthers(publisher, (other) => other.emit('trackUnpublished', event));
        if (!publisher.remote && !publisher.closed) this.#cluster?.memberChanged(publisher);
        if (!publisher.remote)
          this.lifecycle.tell('trackUnpublished', this.name, publisher.identity, producer.id);
      }
    });
    if (!publisher.remote) {
      const changed = () => {
        if (!publisher.closed && publisher.tracks.has(producer.id)) {
          this.#cluster?.memberChanged(publisher);
        }
      };
      producer.observer.on('pause', changed);
      producer.observer.on('resume', changed);
    }
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
    if (producer.kind === 'video') {
      this.#dynacast.watch(producer.id, trackInfo(track).spatialLayers, (trackId, layer) => {
        if (publisher.remote) this.#cluster?.relayNeed(publisher, trackId, layer);
        else publisher.emit('publisherLayers', { trackId, maxSpatialLayer: layer });
      });
    }
    const published = { identity: publisher.identity, track: trackInfo(track) };
    this.#toOthers(publisher, (other) => {
      other.emit('trackPublished', published);
      this.#scheduleReconcile(other);
    });
    if (!publisher.remote) {
      this.#cluster?.memberChanged(publisher);
      this.lifecycle.tell('trackPublished', this.name, publisher.identity, trackInfo(track));
    }
  }

  /**
   * A consumer that carries a track to another node (cluster relay): the publisher keeps every
   * layer for it, since viewers there may need any of them.
   */
  holdLayersFor(consumer: types.Consumer): void {
    const layers = consumer.rtpParameters.encodings?.length ?? 1;
    if (consumer.kind !== 'video' || layers <= 1) return;
    this.#dynacast.setNeed(consumer.producerId, consumer.id, layers - 1);
    consumer.observer.once('close', () =>
      this.#dynacast.setNeed(consumer.producerId, consumer.id, undefined),
    );
  }

  /** The node a relay feeds says how many layers its viewers need now (see holdLayersFor). */
  setRelayNeed(consumer: types.Consumer, maxSpatialLayer: number): void {
    if (!consumer.closed) this.#dynacast.setNeed(consumer.producerId, consumer.id, maxSpatialLayer);
  }

  /** In a cluster: someone connected to another node joins this room's view (a stand-in). */
  addRemote(participant: Participant, quietly: boolean): void {
    if (this.#closed) return;
    this.participants.set(participant.identity, participant);
    this.#announceJoin(participant, quietly);
    if (!quietly) this.stage.joined(participant);
  }

  /**
   * Takes a participant out without telling anyone it left: it lives on elsewhere in the
   * cluster (it moved to another node, or joined again there). Its tracks here close.
   */
  removeQuietly(
    participant: Participant,
    reason?: { code: 'INVALID_STATE'; message: string },
  ): void {
    if (this.participants.get(participant.identity) !== participant) return;
    this.participants.delete(participant.identity);
    if (!participant.remote) participant.disconnect(reason);
    participant.close();
    if (!this.hasLocalParticipants) this.#options.onEmpty(this);
  }

  /**
   * Queues one reconcile pass on the subscriber's own queue (none if one is already waiting).
   * It enters the queue on the next turn of the event loop, so the request that caused it (a
   * produce, say) is answered before any consumer is prepared.
   */
  #scheduleReconcile(subscriber: Participant): void {
    if (subscriber.remote || this.#reconcileQueued.has(subscriber)) return;
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
    // Its consumers exist now and count on their worker by themselves.
    subscriber.releasePlacement?.();
    subscriber.releasePlacement = undefined;
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
    const place = this.routers.byRouterId(transport.appData.routerId as string);
    if (!place) return; // its router died: the reset that follows subscribes again
    let release: () => void;
    try {
      // On an edge router the track must be piped in from the origin first.
      release = await this.routers.acquire(place.router, track.producer);
    } catch (error) {
      if (transport.closed || track.producer.closed || subscriber.closed) return;
      throw error;
    }
    if (
      !place.router.canConsume({ producerId: track.producer.id, rtpCapabilities: capabilities })
    ) {
      release();
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
      consumer.observer.once('close', release);
      await consumer.setPriority(consumerPriority(publisher.role, consumer.kind));
    } catch (error) {
      if (consumer) consumer.close();
      else release();
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
      pausedBySubscriber: false,
    };
    subscriber.subscriptions.set(consumer.id, subscription);
    const consumerId = consumer.id;
    const trackId = track.producer.id;
    this.#dynacast.setNeed(
      trackId,
      consumerId,
      preferredSpatialLayer(spatialLayers, 'auto', undefined),
    );
    consumer.observer.once('close', () => this.#dynacast.setNeed(trackId, consumerId, undefined));
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
    this.#updateNeed(subscription);
    await subscription.consumer.setPreferredLayers({ spatialLayer, temporalLayer: 2 });
  }

  /** The subscriber paused (hid) or resumed one of its consumers. */
  async setPausedBySubscriber(
    subscriber: Participant,
    consumerId: string,
    paused: boolean,
  ): Promise<void> {
    const subscription = subscriber.subscription(consumerId);
    subscription.pausedBySubscriber = paused;
    this.#updateNeed(subscription);
    await (paused ? subscription.consumer.pause() : subscription.consumer.resume());
  }

  #updateNeed(subscription: Subscription): void {
    const { consumer } = subscription;
    if (consumer.closed) return;
    const layer = subscription.pausedBySubscriber
      ? 'none'
      : preferredSpatialLayer(
          subscription.spatialLayers,
          subscription.quality,
          subscription.viewportHeight,
        );
    this.#dynacast.setNeed(consumer.producerId, consumer.id, layer);
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
    const info = participant.info();
    participant.close();
    if (wasJoined && !participant.remote) this.lifecycle.tell('participantLeft', this.name, info);
    if (wasJoined && !participant.grants.hidden) {
      const event = { identity: participant.identity };
      this.#toOthers(participant, (other) => {
        if (this.#knows(other, participant)) other.emit('participantLeft', event);
      });
    }
    // A stand-in's stage place is its own node's business; in a cluster, a participant that left
    // this node may live on at another (the link decides).
    if (!participant.remote) {
      if (this.#cluster) this.#cluster.memberLeft(participant);
      else this.stage.left(participant);
    }
    if (!this.hasLocalParticipants) this.#options.onEmpty(this);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#viewerCountTimer);
    this.stage.close();
    this.chat.close();
    this.reactions.close();
    for (const participant of this.participants.values()) participant.close();
    this.participants.clear();
    this.#liveness.stop();
    this.#dynacast.close();
    this.speakers.close();
    this.routers.close();
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

/** Has the participant every transport its grants and seat call for, each on a live router? */
function hasLiveTransports(participant: Participant): boolean {
  const recv = participant.recvTransport;
  const send = participant.sendTransport;
  return (
    (!participant.grants.canSubscribe || (recv !== undefined && !recv.closed)) &&
    (!participant.mayPublishAnything || (send !== undefined && !send.closed))
  );
}
