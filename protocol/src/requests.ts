import type { z } from 'zod';
import type { AckCallback } from './errors.js';
import {
  chatMessageRefSchema,
  muteChatSchema,
  sendChatMessageSchema,
  sendDataSchema,
  sendReactionSchema,
  type ChatMessage,
} from './interaction.js';
import {
  connectTransportSchema,
  consumerPreferencesSchema,
  consumerSchema,
  emptySchema,
  joinSchema,
  muteParticipantSchema,
  produceSchema,
  raiseHandSchema,
  restartIceSchema,
  stageSeatSchema,
  stageTargetSchema,
  trackSchema,
} from './schemas.js';
import type * as T from './types.js';

// Every request a client may send, declared once: its payload's schema (which the server parses
// with and whose input type the SDK sends), what its ack carries, and who may send it.

/**
 * Who may send a request; the server checks it after the payload parsed and before the handler:
 * - anyone: always accepted (leave: a client can give its place back without joining first);
 * - notJoined: a connection that has not joined yet (join);
 * - joined: a joined participant; the handler decides the rest (stage rules, own ids);
 * - host: a joined host (FORBIDDEN for everyone else);
 * - chat: a joined participant whose token grants canChat (FORBIDDEN otherwise).
 */
export type Access = 'anyone' | 'notJoined' | 'joined' | 'host' | 'chat';

export interface RequestSpec<S extends z.ZodType = z.ZodType, R = unknown, P = z.input<S>> {
  readonly schema: S;
  readonly access: Access;
  /** Type-only: what the ack carries on success. */
  readonly response?: R;
  /** Type-only: what the SDK sends (the schema's input unless a richer type is named). */
  readonly payload?: P;
  /**
   * A well-formed request, for the reader and for the test suites: the escalation suite sends it
   * as it is where it has no case of its own for the request, and the fuzz suite mutates it. Only
   * where the payload names nothing that must exist in a room (a transport, a message, someone):
   * with an example, such a request needs no edit in the tests.
   */
  readonly example?: P;
}

/** Names the ack's data type: `returns<JoinResponse>()`. */
const returns = <R>() => undefined as R | undefined;
/** Names the payload type where the schema's own is looser (mediasoup's RTP structures). */
const sends = <P>() => undefined as P | undefined;

export const REQUESTS = {
  join: {
    schema: joinSchema,
    access: 'notJoined',
    response: returns<T.JoinResponse>(),
    payload: sends<T.JoinRequest>(),
  },
  connectTransport: {
    schema: connectTransportSchema,
    access: 'joined',
    response: returns<null>(),
    payload: sends<T.ConnectTransportRequest>(),
  },
  produce: {
    schema: produceSchema,
    access: 'joined',
    response: returns<T.ProduceResponse>(),
    payload: sends<T.ProduceRequest>(),
  },
  closeTrack: { schema: trackSchema, access: 'joined', response: returns<null>() },
  pauseTrack: { schema: trackSchema, access: 'joined', response: returns<null>() },
  resumeTrack: { schema: trackSchema, access: 'joined', response: returns<null>() },
  resumeConsumer: { schema: consumerSchema, access: 'joined', response: returns<null>() },
  pauseConsumer: { schema: consumerSchema, access: 'joined', response: returns<null>() },
  setConsumerPreferences: {
    schema: consumerPreferencesSchema,
    access: 'joined',
    response: returns<null>(),
  },
  leave: { schema: emptySchema, access: 'anyone', response: returns<null>(), example: {} },
  raiseHand: {
    schema: raiseHandSchema,
    access: 'joined',
    response: returns<T.HandRequest>(),
    example: { message: 'May I ask about the roadmap?' },
  },
  lowerHand: { schema: emptySchema, access: 'joined', response: returns<null>(), example: {} },
  approveHand: { schema: stageSeatSchema, access: 'host', response: returns<null>() },
  denyHand: { schema: stageTargetSchema, access: 'host', response: returns<null>() },
  inviteToStage: {
    schema: stageSeatSchema,
    access: 'host',
    response: returns<T.StageInvite>(),
  },
  acceptInvite: { schema: emptySchema, access: 'joined', response: returns<null>(), example: {} },
  declineInvite: { schema: emptySchema, access: 'joined', response: returns<null>(), example: {} },
  removeFromStage: { schema: stageTargetSchema, access: 'host', response: returns<null>() },
  leaveStage: { schema: emptySchema, access: 'joined', response: returns<null>(), example: {} },
  muteParticipant: { schema: muteParticipantSchema, access: 'host', response: returns<null>() },
  restartIce: {
    schema: restartIceSchema,
    access: 'joined',
    response: returns<T.RestartIceResponse>(),
  },
  sendChatMessage: {
    schema: sendChatMessageSchema,
    access: 'chat',
    response: returns<ChatMessage>(),
    example: { text: 'Hello from the front row!' },
  },
  // Both name something that must exist (a message id, a participant): no example.
  deleteChatMessage: { schema: chatMessageRefSchema, access: 'host', response: returns<null>() },
  muteChat: { schema: muteChatSchema, access: 'host', response: returns<null>() },
  sendReaction: {
    schema: sendReactionSchema,
    access: 'chat',
    response: returns<null>(),
    example: { emoji: '❤️' },
  },
  sendData: {
    schema: sendDataSchema,
    access: 'chat',
    response: returns<null>(),
    example: { topic: 'poll', payload: '{"question":"Encore?","answers":["yes","no"]}' },
  },
} as const satisfies Record<string, RequestSpec>;

export type RequestEvent = keyof typeof REQUESTS;
export const REQUEST_EVENTS = Object.keys(REQUESTS) as RequestEvent[];

type Spec<E extends RequestEvent> = (typeof REQUESTS)[E];
/** What a client sends with request E. */
export type RequestOf<E extends RequestEvent> =
  Spec<E> extends { payload: infer P } ? Exclude<P, undefined> : z.input<Spec<E>['schema']>;
/** What the server's handler receives for request E (the schema's output). */
export type ParsedRequestOf<E extends RequestEvent> = z.output<Spec<E>['schema']>;
/** What the ack of request E carries on success. */
export type ResponseOf<E extends RequestEvent> = Exclude<Spec<E>['response'], undefined>;

/** The declared example of request E, if it has one (the schema checks it in the tests too). */
export function exampleOf<E extends RequestEvent>(event: E): RequestOf<E> | undefined {
  const spec: RequestSpec = REQUESTS[event];
  return spec.example as RequestOf<E> | undefined;
}
// Every example is a request of its own event (compile time; refinements are checked at run time).
type ExampleOf<E extends RequestEvent> = Spec<E> extends { example: infer X } ? X : never;
type MisdeclaredExample = {
  [E in RequestEvent]: [ExampleOf<E>] extends [RequestOf<E>] ? never : E;
}[RequestEvent];
export const EXAMPLES_ARE_REQUESTS: [MisdeclaredExample] extends [never]
  ? true
  : MisdeclaredExample = true;

export type ClientToServerEvents = {
  [E in RequestEvent]: (request: RequestOf<E>, ack: AckCallback<ResponseOf<E>>) => void;
};

// Names for some requests' payloads (the schemas are the declaration).
export type TrackRequest = RequestOf<'closeTrack'>;
export type ConsumerPreferencesRequest = RequestOf<'setConsumerPreferences'>;
export type RaiseHandRequest = RequestOf<'raiseHand'>;
export type StageTargetRequest = RequestOf<'denyHand'>;
export type StageSeatRequest = RequestOf<'approveHand'>;
export type MuteParticipantRequest = RequestOf<'muteParticipant'>;
export type RestartIceRequest = RequestOf<'restartIce'>;
export type SendChatMessageRequest = RequestOf<'sendChatMessage'>;
export type SendDataRequest = RequestOf<'sendData'>;
