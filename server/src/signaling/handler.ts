import type { z } from 'zod';
import type { ClientToServerEvents, ResponseOf } from '../../../client-sdk/src/protocol.js';
import type { Config } from '../config/config.js';
import type { Participant } from '../rooms/Participant.js';
import type { Room } from '../rooms/Room.js';

export interface HandlerContext {
  room: Room;
  participant: Participant;
  config: Config;
}

export type EventName = keyof ClientToServerEvents;

/** One signaling request: its event, the schema its payload must pass, and what it does. */
export interface Handler<E extends EventName = EventName, S extends z.ZodType = z.ZodType> {
  event: E;
  schema: S;
  handle(context: HandlerContext, request: z.output<S>): Promise<ResponseOf<E>>;
  /** Runs after the ack was sent, still in the participant's request queue. */
  afterAck?(context: HandlerContext): Promise<void>;
}

export function defineHandler<E extends EventName, S extends z.ZodType>(
  handler: Handler<E, S>,
): Handler<E, S> {
  return handler;
}
