import { EventEmitter } from 'node:events';
import type { HandRequest, ParticipantInfo, TrackInfo } from '@livestage/protocol';

/**
 * What happens in this node's rooms, for observers (metrics, webhooks). In a cluster each event
 * is told by one node only: the one its participant is connected to (room start and finish by
 * every node that holds the room).
 */
export interface RoomLifecycle {
  roomStarted: [room: string];
  roomFinished: [room: string];
  participantJoined: [room: string, participant: ParticipantInfo];
  participantLeft: [room: string, participant: ParticipantInfo];
  trackPublished: [room: string, identity: string, track: TrackInfo];
  trackUnpublished: [room: string, identity: string, trackId: string];
  handRaised: [room: string, hand: HandRequest];
  stageJoined: [room: string, identity: string];
  stageLeft: [room: string, identity: string];
  /** A chat message accepted here, or shed by the room's flood budget (RATE_LIMITED). */
  chatMessage: [room: string, outcome: 'accepted' | 'shed'];
}

/** An observer that throws must not break a room: its error is reported, not propagated. */
export class RoomEvents extends EventEmitter<RoomLifecycle> {
  constructor(private readonly onListenerError: (error: unknown) => void = () => undefined) {
    super();
  }

  tell<E extends keyof RoomLifecycle>(event: E, ...args: RoomLifecycle[E]): void {
    for (const listener of this.listeners(event) as ((...a: RoomLifecycle[E]) => void)[]) {
      try {
        listener(...args);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
