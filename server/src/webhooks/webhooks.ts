import type { ParticipantInfo } from '@livestage/protocol';
import type { TokenKeys } from '../auth/tokens.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { RoomEvents } from '../rooms/RoomEvents.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import {
  webhookEvent,
  webhookParticipant,
  webhookTrack,
  type WebhookEventName,
  type WebhookFields,
  type WebhookParticipant,
  type WebhookTrack,
} from './webhookEvent.js';
import { WebhookQueue, type DeliveryOptions } from './WebhookQueue.js';

/** Deliveries in flight per URL at once (each for a different room). */
const CONCURRENCY_PER_URL = 4;
/** On shutdown, how long queued events (the rooms' room_finished) get to go out. */
const CLOSE_GRACE_MS = 1_000;

/** Who a participant is right now, for events that carry only an identity. */
export type ParticipantLookup = (room: string, identity: string) => ParticipantInfo | undefined;

/**
 * Signed webhooks to every configured URL. `send` is synchronous and cheap (the event is queued
 * per URL and delivered later), so it can be called from anywhere on a room's path.
 */
export class Webhooks {
  readonly #queues: WebhookQueue[];
  /** Tracks published per room, so that track_unpublished can still describe its track. */
  readonly #tracks = new Map<string, Map<string, WebhookTrack>>();

  constructor(
    urls: readonly string[],
    keys: TokenKeys,
    options: Omit<DeliveryOptions, 'concurrency'> & Partial<DeliveryOptions>,
    log: Logger,
  ) {
    const delivery = { concurrency: CONCURRENCY_PER_URL, ...options };
    this.#queues = urls.map((url) => new WebhookQueue(url, keys, delivery, log));
  }

  /** Webhooks from the configuration, fed by the registry's room events. */
  static start(config: Config, rooms: RoomRegistry, log: Logger): Webhooks {
    const webhooks = new Webhooks(config.webhooks.urls, config.auth, config.webhooks, log);
    if (config.webhooks.urls.length > 0) {
      webhooks.observe(rooms.events, (room, identity) =>
        rooms.rooms.get(room)?.participants.get(identity)?.info(),
      );
      log.info('webhooks on', { urls: config.webhooks.urls.length });
    }
    return webhooks;
  }

  get enabled(): boolean {
    return this.#queues.length > 0;
  }

  /** Deliveries that will never happen (all URLs together): queue full, out of attempts, refused. */
  get dropped(): number {
    return this.#queues.reduce((sum, queue) => sum + queue.dropped, 0);
  }

  /** Deliveries a receiver accepted (all URLs together). */
  get delivered(): number {
    return this.#queues.reduce((sum, queue) => sum + queue.delivered, 0);
  }

  /** Deliveries waiting or in flight (all URLs together). */
  get pending(): number {
    return this.#queues.reduce((sum, queue) => sum + queue.pending, 0);
  }

  /** Queues `event` for every URL; events of one room reach each URL in the order sent. */
  send(event: WebhookEventName | (string & {}), fields: WebhookFields): void {
    if (this.#queues.length === 0) return;
    const message = webhookEvent(event, fields);
    for (const queue of this.#queues) queue.enqueue(fields.room.name, message);
  }

  /** Turns the rooms' lifecycle into webhook events. */
  observe(events: RoomEvents, lookup: ParticipantLookup): void {
    const participant = (room: string, identity: string): WebhookParticipant => {
      const info = lookup(room, identity);
      return info ? webhookParticipant(info) : { identity };
    };
    events.on('roomStarted', (room) => this.send('room_started', { room: { name: room } }));
    events.on('roomFinished', (room) => {
      this.#tracks.delete(room);
      this.send('room_finished', { room: { name: room } });
    });
    events.on('participantJoined', (room, info) =>
      this.send('participant_joined', {
        room: { name: room },
        participant: webhookParticipant(info),
      }),
    );
    events.on('participantLeft', (room, info) =>
      this.send('participant_left', {
        room: { name: room },
        participant: webhookParticipant(info),
      }),
    );
    events.on('trackPublished', (room, identity, info) => {
      const track = webhookTrack(info);
      let tracks = this.#tracks.get(room);
      if (!tracks) this.#tracks.set(room, (tracks = new Map()));
      tracks.set(track.sid, track);
      this.send('track_published', {
        room: { name: room },
        participant: participant(room, identity),
        track,
      });
    });
    events.on('trackUnpublished', (room, identity, trackId) => {
      const tracks = this.#tracks.get(room);
      const track = tracks?.get(trackId) ?? { sid: trackId };
      tracks?.delete(trackId);
      this.send('track_unpublished', {
        room: { name: room },
        participant: participant(room, identity),
        track,
      });
    });
    events.on('handRaised', (room, hand) =>
      this.send('hand_raised', {
        room: { name: room },
        participant: lookup(room, hand.identity)
          ? participant(room, hand.identity)
          : { identity: hand.identity, name: hand.name },
        // Epoch milliseconds, as in the SDK's HandRequest.
        hand: { message: hand.message, raisedAt: hand.raisedAt, expiresAt: hand.expiresAt },
      }),
    );
    events.on('stageJoined', (room, identity) =>
      this.send('stage_joined', { room: { name: room }, participant: participant(room, identity) }),
    );
    events.on('stageLeft', (room, identity) =>
      this.send('stage_left', { room: { name: room }, participant: participant(room, identity) }),
    );
  }

  /** Gives queued events a moment to go out, then aborts the rest (counted as dropped). */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    await Promise.all(this.#queues.map((queue) => queue.close(graceMs)));
  }
}
