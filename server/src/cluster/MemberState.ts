import type { TrackInfo } from '@livestage/protocol';
import type { Grants } from '../auth/grants.js';
import { trackInfo, type Participant } from '../rooms/Participant.js';

/** One participant of a room as the cluster knows it: where it is connected and what it sends. */
export interface MemberState {
  identity: string;
  /** The node it is connected to; its tracks enter the cluster there. */
  node: string;
  /** That node's URL (relay requests go there). */
  nodeUrl: string;
  grants: Pick<
    Grants,
    'room' | 'role' | 'canPublish' | 'canSubscribe' | 'canChat' | 'hidden' | 'name' | 'metadata'
  >;
  tracks: TrackInfo[];
}

export function memberStateOf(
  participant: Participant,
  node: string,
  nodeUrl: string,
): MemberState {
  const { room, role, canPublish, canSubscribe, canChat, hidden, name, metadata } =
    participant.grants;
  return {
    identity: participant.identity,
    node,
    nodeUrl,
    grants: { room, role, canPublish, canSubscribe, canChat, hidden, name, metadata },
    tracks: [...participant.tracks.values()].map(trackInfo),
  };
}
