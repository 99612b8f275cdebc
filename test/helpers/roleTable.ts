import {
  REQUESTS,
  REQUEST_EVENTS,
  type Access,
  type ErrorCode,
  type RequestEvent,
} from '@livestage/protocol';

// Who may do what over signaling, as data. The escalation suite checks every row against a real
// server; the fuzz suite uses it as an upper bound on which requests may ever answer ok:true.
// Requests whose rules are more than their declared access (the stage, ids of one's own
// resources) have a row written out below; every other request's row follows from the `access`
// it is declared with in the protocol (ACCESS_ROWS), so a new request needs no row here.

export type { RequestEvent };

/** Every request event of the protocol. */
export { REQUEST_EVENTS };

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

/** The row a request's declared access implies (columns in ACTORS order). */
// prettier-ignore
const ACCESS_ROWS: Record<Access, readonly Outcome[]> = {
  //           host       guest      guestMic   audience   audPub     hidden     notJoined  left
  anyone:    [ OK,        OK,        OK,        OK,        OK,        OK,        OK,        STATE ],
  notJoined: [ STATE,     STATE,     STATE,     STATE,     STATE,     STATE,     OK,        STATE ],
  joined:    [ OK,        OK,        OK,        OK,        OK,        OK,        STATE,     STATE ],
  host:      [ OK,        FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, STATE,     STATE ],
  // Every actor's token grants canChat (the default); a token without it is FORBIDDEN.
  chat:      [ OK,        OK,        OK,        OK,        OK,        OK,        STATE,     STATE ],
};

/** Every case: the written-out rows, and for requests without one, the row of their access. */
export const CASES: readonly CaseName[] = [
  ...(Object.keys(ROLE_TABLE) as CaseName[]),
  ...REQUEST_EVENTS.filter((event) => !hasWrittenRow(event)),
];

function hasWrittenRow(event: RequestEvent): boolean {
  return (Object.keys(ROLE_TABLE) as CaseName[]).some((name) => eventOf(name) === event);
}

function rowOf(name: CaseName): readonly Outcome[] | undefined {
  return (
    ROLE_TABLE[name] ??
    (name === eventOf(name) ? ACCESS_ROWS[REQUESTS[eventOf(name)].access] : undefined)
  );
}

export function eventOf(name: CaseName): RequestEvent {
  return name.split(':')[0] as RequestEvent;
}

/** What `actor` must get for `name`. */
export function expectedOutcome(name: CaseName, actor: Actor): Outcome {
  const row = rowOf(name);
  const outcome = row?.[ACTORS.indexOf(actor)];
  if (!outcome) throw new Error(`role table has no entry for ${name} × ${actor}`);
  return outcome;
}

/** Whether any variant of `event` may succeed for `actor` (an upper bound for the fuzz suite). */
export function mayEverSucceed(event: string, actor: Actor): boolean {
  return CASES.some((name) => eventOf(name) === event && expectedOutcome(name, actor) === 'ok');
}
