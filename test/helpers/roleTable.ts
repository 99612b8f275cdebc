import type { ClientToServerEvents, ErrorCode } from '../../client-sdk/src/protocol.js';

// Who may do what over signaling, as data. The escalation suite checks every row against a real
// server; the fuzz suite uses it as an upper bound on which requests may ever answer ok:true.

export type RequestEvent = keyof ClientToServerEvents;

/** A Record, so that a request added to the protocol fails type-checking until it is listed. */
const EVENT_SET: Record<RequestEvent, true> = {
  join: true,
  connectTransport: true,
  produce: true,
  closeTrack: true,
  pauseTrack: true,
  resumeTrack: true,
  resumeConsumer: true,
  pauseConsumer: true,
  setConsumerPreferences: true,
  leave: true,
  raiseHand: true,
  lowerHand: true,
  approveHand: true,
  denyHand: true,
  inviteToStage: true,
  acceptInvite: true,
  declineInvite: true,
  removeFromStage: true,
  leaveStage: true,
  muteParticipant: true,
  restartIce: true,
};

/** Every request event of ClientToServerEvents. */
export const REQUEST_EVENTS = Object.keys(EVENT_SET) as RequestEvent[];

/**
 * Who sends the request:
 * - host: token role host (always on stage, publishes what its token allows);
 * - guest: token role guest, seated by its token when it joined (microphone, camera, screen);
 * - guestMicOnly: an audience token a host approved on stage with sources ['microphone'];
 * - audience: token role audience;
 * - audiencePublisher: token role audience with canPublish:true (the stage decides, not the flag);
 * - hidden: audience token with hidden:true (recorders, monitors);
 * - notJoined: connected (with a host token) but never sent join;
 * - left: joined, then sent leave on a socket that stays connected.
 */
export const ACTORS = [
  'host',
  'guest',
  'guestMicOnly',
  'audience',
  'audiencePublisher',
  'hidden',
  'notJoined',
  'left',
] as const;
export type Actor = (typeof ACTORS)[number];

export type Outcome = 'ok' | ErrorCode;

/** A request event, or an event with a variant after a colon (what is published, what state). */
export type CaseName = RequestEvent | `${RequestEvent}:${string}`;

const OK = 'ok';
const FORBIDDEN = 'FORBIDDEN';
const STATE = 'INVALID_STATE';
const NOT_FOUND = 'NOT_FOUND';

/**
 * The product rules, one row per request (columns in ACTORS order). Every request is well formed
 * and otherwise valid: it names the sender's own transport/track/consumer when it has one (else
 * another participant's), a real raised hand, the real guest, a real audience member, and so on.
 *
 * - hosts alone approve, deny, invite, remove and mute (FORBIDDEN for everyone else);
 * - guests publish only the sources of their seat (FORBIDDEN otherwise); the audience never
 *   publishes, canPublish:true in an audience token included (FORBIDDEN);
 * - ids are never resolved across participants (NOT_FOUND);
 * - raising a hand is for the audience: on stage it is INVALID_STATE, hidden ones are FORBIDDEN;
 * - leaving the stage is for guests: NOT_FOUND off stage, INVALID_STATE for hosts;
 * - before join everything is INVALID_STATE except join itself, and leave: a goodbye is always
 *   accepted, so a client can give its place back without joining first;
 * - after leave everything is INVALID_STATE (the socket may stay open, the participant is gone).
 */
// prettier-ignore
export const ROLE_TABLE: Partial<Record<CaseName, readonly Outcome[]>> = {
  //                          host       guest      guestMic   audience   audPub     hidden     notJoined  left
  'join':                   [ STATE,     STATE,     STATE,     STATE,     STATE,     STATE,     OK,        STATE ],
  'connectTransport':       [ OK,        OK,        OK,        OK,        OK,        OK,        STATE,     STATE ],
  'produce:camera':         [ OK,        OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'produce:microphone':     [ OK,        OK,        OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'produce:screen':         [ OK,        OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'closeTrack':             [ OK,        OK,        OK,        NOT_FOUND, NOT_FOUND, NOT_FOUND, STATE,     STATE ],
  'pauseTrack':             [ OK,        OK,        OK,        NOT_FOUND, NOT_FOUND, NOT_FOUND, STATE,     STATE ],
  'resumeTrack':            [ OK,        OK,        OK,        NOT_FOUND, NOT_FOUND, NOT_FOUND, STATE,     STATE ],
  'resumeTrack:mutedByHost':[ OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, NOT_FOUND, NOT_FOUND, STATE,     STATE ],
  'resumeConsumer':         [ OK,        OK,        OK,        OK,        OK,        OK,        STATE,     STATE ],
  'pauseConsumer':          [ OK,        OK,        OK,        OK,        OK,        OK,        STATE,     STATE ],
  'setConsumerPreferences': [ OK,        OK,        OK,        OK,        OK,        OK,        STATE,     STATE ],
  'leave':                  [ OK,        OK,        OK,        OK,        OK,        OK,        OK,        STATE ],
  'raiseHand':              [ STATE,     STATE,     STATE,     OK,        OK,        FORBIDDEN, STATE,     STATE ],
  'lowerHand':              [ NOT_FOUND, NOT_FOUND, NOT_FOUND, OK,        OK,        NOT_FOUND, STATE,     STATE ],
  'approveHand':            [ OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'denyHand':               [ OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'inviteToStage':          [ OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'acceptInvite':           [ NOT_FOUND, NOT_FOUND, NOT_FOUND, OK,        OK,        NOT_FOUND, STATE,     STATE ],
  'declineInvite':          [ NOT_FOUND, NOT_FOUND, NOT_FOUND, OK,        OK,        NOT_FOUND, STATE,     STATE ],
  'removeFromStage':        [ OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'leaveStage':             [ STATE,     OK,        OK,        NOT_FOUND, NOT_FOUND, NOT_FOUND, STATE,     STATE ],
  'muteParticipant':        [ OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  'restartIce':             [ OK,        OK,        OK,        OK,        OK,        OK,        STATE,     STATE ],
};

export function eventOf(name: CaseName): RequestEvent {
  return name.split(':')[0] as RequestEvent;
}

/** What `actor` must get for `name`. */
export function expectedOutcome(name: CaseName, actor: Actor): Outcome {
  const row = ROLE_TABLE[name];
  const outcome = row?.[ACTORS.indexOf(actor)];
  if (!outcome) throw new Error(`role table has no entry for ${name} × ${actor}`);
  return outcome;
}

/** Whether any variant of `event` may succeed for `actor` (an upper bound for the fuzz suite). */
export function mayEverSucceed(event: string, actor: Actor): boolean {
  return (Object.keys(ROLE_TABLE) as CaseName[]).some(
    (name) => eventOf(name) === event && expectedOutcome(name, actor) === 'ok',
  );
}
