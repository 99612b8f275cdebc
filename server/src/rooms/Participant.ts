import type { types } from 'mediasoup';
import type {
  Kicked,
  ParticipantInfo,
  QualityPreference,
  ServerToClientEvents,
  TrackInfo,
  TrackSource,
} from '@livestage/protocol';
import type { Grants } from '../auth/grants.js';
import { ResumeCredential } from '../auth/resumeCredential.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { MissedEvents } from './MissedEvents.js';
import { SerialQueue } from './SerialQueue.js';
import { stageSourceOf, type Seat } from './Stage.js';

export type Emit = <E extends keyof ServerToClientEvents>(
  event: E,
  ...args: Parameters<ServerToClientEvents[E]>
) => void;

/** The socket a participant is reached through; replaced when the client resumes. */
export interface Connection {
  readonly id: string;
  emit: Emit;
  disconnect(): void;
}

/**
 * Events kept for a suspended participant; past this, it must rejoin instead of resuming. Events
 * that only say how things are now (speakers, counts) keep one of a kind (MissedEvents).
 */
const MAX_BUFFERED_EVENTS = 2000;

export interface PublishedTrack {
  producer: types.Producer;
  source: TrackSource;
  /** Paused by its publisher (as opposed to by a host): a host's unmute leaves it paused. */
  pausedByOwner: boolean;
}

export interface Subscription {
  consumer: types.Consumer;
  publisherIdentity: string;
  spatialLayers: number;
  quality: QualityPreference;
  viewportHeight: number | undefined;
  /** The subscriber paused it (a hidden tile): it needs no layer (dynacast). */
  pausedBySubscriber: boolean;
}

/** One connected client in a room: its grants, its transports and the tracks it sends and gets. */
export class Participant {
  readonly identity: string;
  readonly grants: Grants;
  readonly log: Logger;
  /** Lets the same client take this participant back after a dropped connection. */
  readonly resumeCredential = new ResumeCredential();
  readonly requests = new SerialQueue();
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly tracks = new Map<string, PublishedTrack>();
  readonly subscriptions = new Map<string, Subscription>();
  rtpCapabilities: types.RtpCapabilities | undefined;
  recvTransport: types.WebRtcTransport | undefined;
  /** Transports asked of the worker and not made yet; they count against the cap. */
  pendingTransports = 0;
  /** A track was left unconsumed because of the consumer cap: retry when a consumer closes. */
  skippedForCap = false;
  /** Gives back the consumers reserved on a worker when this viewer was placed there. */
  releasePlacement: (() => void) | undefined;
  /**
   * The audience at large was told of this participant (it joined a small room, or came on
   * stage), so its leave goes to everyone; otherwise only hosts hear of it.
   */
  knownToAudience = false;
  /** A guest's place on stage; set and cleared by the room's stage only. */
  seat: Seat | undefined;
  /** Free-form application data shown to others: the token's, until the admin API changes it. */
  metadata: string;
  /** Cap on what the server sends this participant (bits/s), set over the REST API; null: none. */
  maxOutgoingBitrate: number | null = null;
  joined = false;
  /**
   * In a cluster: the node this participant is connected to, when that is another node. Such a
   * stand-in has no connection here; its tracks are relayed from its node; everything that
   * needs its client (transports, messages to it) happens on its own node.
   */
  remote: string | undefined;
  /** It took over from a stand-in (it was connected to another node): the others know it. */
  movedIn = false;
  #connection: Connection | undefined;
  /** Set while the connection is gone: what would have been sent, in order. */
  #missed: MissedEvents | undefined;
  /** The events missed while suspended were too many: the client must join again. */
  #missedOverflow = false;
  #graceTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(identity: string, grants: Grants, connection: Connection, log: Logger) {
    this.identity = identity;
    this.grants = grants;
    this.metadata = grants.metadata ?? '';
    this.#connection = connection;
    this.log = log;
  }

  /** A stand-in for someone connected to another node of the cluster. */
  static remoteOf(identity: string, grants: Grants, node: string, log: Logger): Participant {
    const nowhere: Connection = {
      id: `remote:${node}`,
      emit: () => undefined,
      disconnect: () => undefined,
    };
    const participant = new Participant(identity, grants, nowhere, log);
    participant.remote = node;
    participant.joined = true;
    return participant;
  }

  readonly emit: Emit = (event, ...args) => {
    if (this.#closed) return;
    if (this.#connection) {
      this.#connection.emit(event, ...args);
    } else if (this.#missed) {
      this.#missed.push(event, args);
      if (this.#missed.overflowed) this.#missedOverflow = true;
    }
  };

  get connectionId(): string | undefined {
    return this.#connection?.id;
  }

  get suspended(): boolean {
    return this.#missed !== undefined;
  }

  /** Can a client with this credential take the participant back? */
  canResume(credential: unknown, grants: Grants): boolean {
    return (
      !this.#closed &&
      this.joined &&
      !this.#missedOverflow &&
      JSON.stringify(grants) === JSON.stringify(this.grants) &&
      this.resumeCredential.matches(credential)
    );
  }

  /** The connection dropped: keep everything, remember what it misses, give up after graceMs. */
  suspend(graceMs: number, onExpired: () => void): void {
    if (this.#closed || this.suspended) return;
    this.#connection = undefined;
    this.#missed = new MissedEvents(MAX_BUFFERED_EVENTS);
    this.#graceTimer = setTimeout(onExpired, graceMs);
    this.#graceTimer.unref();
  }

  /** A new connection takes over (the old one, if still open, is closed); missed events follow. */
  resume(connection: Connection): void {
    clearTimeout(this.#graceTimer);
    const previous = this.#connection;
    const missed = this.#missed?.take() ?? [];
    this.#connection = connection;
    this.#missed = undefined;
    previous?.disconnect();
    for (const [event, args] of missed) {
      (connection.emit as (event: string, ...args: unknown[]) => void)(event, ...args);
    }
  }

  /** Drops the connection, telling the client why first when there is a reason. */
  disconnect(reason?: Kicked): void {
    const connection = this.#connection;
    if (!connection) return;
    if (reason) connection.emit('kicked', reason);
    connection.disconnect();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Hosts come from the token; guests are whoever holds a stage seat; everyone else watches. */
  get role(): Grants['role'] {
    if (this.grants.role === 'host') return 'host';
    return this.seat ? 'guest' : 'audience';
  }

  /** The one place that decides whether this participant may send a track of `source`. */
  mayPublish(source: TrackSource): boolean {
    if (this.grants.role === 'host') return this.grants.canPublish;
    return this.seat?.sources.has(stageSourceOf(source)) ?? false;
  }

  get mayPublishAnything(): boolean {
    return this.grants.role === 'host'
      ? this.grants.canPublish
      : (this.seat?.sources.size ?? 0) > 0;
  }

  isMutedByHost(source: TrackSource): boolean {
    return this.seat?.mutedByHost.has(stageSourceOf(source)) ?? false;
  }

  get sendTransport(): types.WebRtcTransport | undefined {
    for (const transport of this.transports.values()) {
      if (transport.appData.direction === 'send') return transport;
    }
    return undefined;
  }

  info(): ParticipantInfo {
    return {
      identity: this.identity,
      name: this.grants.name ?? this.identity,
      role: this.role,
      metadata: this.metadata,
      tracks: [...this.tracks.values()].map(trackInfo),
    };
  }

  /** The caller's own transport, or NOT_FOUND: ids are never resolved across participants. */
  transport(transportId: string): types.WebRtcTransport {
    const transport = this.transports.get(transportId);
    if (!transport) throw new AppError('NOT_FOUND', 'no such transport');
    return transport;
  }

  track(trackId: string): PublishedTrack {
    const track = this.tracks.get(trackId);
    if (!track) throw new AppError('NOT_FOUND', 'no such track');
    return track;
  }

  subscription(consumerId: string): Subscription {
    const subscription = this.subscriptions.get(consumerId);
    if (!subscription) throw new AppError('NOT_FOUND', 'no such consumer');
    return subscription;
  }

  isSubscribedTo(trackId: string): boolean {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.consumer.producerId === trackId) return true;
    }
    return false;
  }

  /** Closes every transport (and so every producer and consumer on them). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    this.releasePlacement?.();
    this.releasePlacement = undefined;
    this.#missed = undefined;
    // A stand-in's tracks are relayed in on pipes of their own, not on its (absent) transports.
    if (this.remote) for (const track of [...this.tracks.values()]) track.producer.close();
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
    this.tracks.clear();
    this.subscriptions.clear();
  }
}

export function trackInfo({
  producer,
  source,
}: Pick<PublishedTrack, 'producer' | 'source'>): TrackInfo {
  return {
    id: producer.id,
    kind: producer.kind,
    source,
    spatialLayers: producer.rtpParameters.encodings?.length ?? 1,
    paused: producer.paused,
  };
}
