import type { ParsedRequestOf, RequestEvent, ResponseOf } from '@livestage/protocol';
import type { Config } from '../config/config.js';
import type { Participant } from '../rooms/Participant.js';
import type { Room } from '../rooms/Room.js';

export interface HandlerContext {
  room: Room;
  participant: Participant;
  config: Config;
}

export type EventName = RequestEvent;

/**
 * What one signaling request does. Its payload's schema and who may send it are declared with
 * the request in @livestage/protocol (REQUESTS); the dispatcher checks both before `handle`.
 */
export interface Handler<E extends EventName = EventName> {
  event: E;
  handle(context: HandlerContext, request: ParsedRequestOf<E>): Promise<ResponseOf<E>>;
  /** Runs after the ack was sent, still in the participant's request queue. */
  afterAck?(context: HandlerContext): Promise<void>;
}

/** Every request's handler, by event: a request declared in the protocol and not handled fails type-checking. */
export type HandlerTable = { [E in EventName]: Handler<E> };

export function defineHandler<E extends EventName>(handler: Handler<E>): Handler<E> {
  return handler;
}
