import { ROLES } from '../auth/grants.js';
import type { Participant } from '../rooms/Participant.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';

export { ROLES };
export const KINDS = ['audio', 'video'] as const;

/** Participants connected to this node (a cluster's stand-ins for other nodes' are skipped). */
export function* localParticipants(rooms: RoomRegistry): Generator<Participant> {
  for (const room of rooms.rooms.values()) {
    for (const participant of room.participants.values()) {
      if (!participant.remote && !participant.closed) yield participant;
    }
  }
}

export interface RoomCounts {
  rooms: number;
  participants: Record<(typeof ROLES)[number], number>;
  producers: Record<(typeof KINDS)[number], number>;
  consumers: Record<(typeof KINDS)[number], number>;
}

/** What this node holds now, by role and by kind: a walk over its rooms at scrape time. */
export function countRooms(rooms: RoomRegistry): RoomCounts {
  const counts: RoomCounts = {
    rooms: rooms.rooms.size,
    participants: { host: 0, guest: 0, audience: 0 },
    producers: { audio: 0, video: 0 },
    consumers: { audio: 0, video: 0 },
  };
  for (const participant of localParticipants(rooms)) {
    counts.participants[participant.role] += 1;
    for (const { producer } of participant.tracks.values()) counts.producers[producer.kind] += 1;
    for (const { consumer } of participant.subscriptions.values()) {
      counts.consumers[consumer.kind] += 1;
    }
  }
  return counts;
}
