import type {
  ChatMessage,
  ChatMessageDeleted,
  ChatMuted,
  DataMessage,
  ReactionCounts,
} from '@livestage/protocol';
import type { Participant } from '../rooms/Participant.js';

/**
 * What one node tells every node of a room (itself included) about chat, reactions and data. In
 * one process it is applied at once; in a cluster it travels on the room's channel, and every
 * node applies it, in the channel's order, to its own participants.
 */
export type InteractionMessage =
  | { type: 'chat'; message: ChatMessage }
  | ({ type: 'chatDeleted' } & ChatMessageDeleted)
  | ({ type: 'chatMuted' } & ChatMuted)
  | { type: 'reactions'; counts: ReactionCounts['counts'] }
  | { type: 'data'; message: DataMessage };

const TYPES = new Set<string>(['chat', 'chatDeleted', 'chatMuted', 'reactions', 'data']);

export function isInteractionMessage(body: unknown): body is InteractionMessage {
  const type = (body as { type?: unknown } | null)?.type;
  return typeof type === 'string' && TYPES.has(type);
}

/** Takes an interaction message to every node of the room (see InteractionMessage). */
export type InteractionSend = (message: InteractionMessage) => Promise<void>;

/** The part of a room the interaction parts see: who is in it. */
export interface InteractionRoom {
  readonly participants: ReadonlyMap<string, Participant>;
}

/** Joined participants connected to this node: the ones this node delivers to. */
export function* localRecipients(room: InteractionRoom): Generator<Participant> {
  for (const participant of room.participants.values()) {
    if (participant.joined && !participant.closed && !participant.remote) yield participant;
  }
}

/** A joined participant of the room, on any node. */
export function isInRoom(room: InteractionRoom, identity: string): boolean {
  const participant = room.participants.get(identity);
  return participant !== undefined && participant.joined && !participant.closed;
}

/**
 * Someone a message may be addressed to (`to`): a joined participant others can see. A hidden
 * participant is absent to them, so naming one is NOT_FOUND like naming nobody (as on stage).
 */
export function isAddressable(room: InteractionRoom, identity: string): boolean {
  return isInRoom(room, identity) && room.participants.get(identity)?.grants.hidden !== true;
}
