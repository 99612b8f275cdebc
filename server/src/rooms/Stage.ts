import type { HandRequest, Role, StageInvite, StageSource, TrackSource } from '@livestage/protocol';
import { AppError } from '../errors.js';

export const STAGE_SOURCES: readonly StageSource[] = ['microphone', 'camera', 'screen'];
export const DEFAULT_GUEST_SOURCES: readonly StageSource[] = ['microphone', 'camera'];

/** Screen audio rides on the screen permission; everything else is its own source. */
export function stageSourceOf(source: TrackSource): StageSource {
  return source === 'screen-audio' ? 'screen' : source;
}

export interface StageLimits {
  /** Guests on stage at once; hosts do not count. */
  maxGuests: number;
  handTtlMs: number;
  inviteTtlMs: number;
}

/** A guest's place on stage: what it may publish and what a host has muted. */
export interface Seat {
  /** Unique in its stage, in the order seats were taken: tells a seat from a later one. */
  readonly id: number;
  readonly identity: string;
  readonly sources: ReadonlySet<StageSource>;
  readonly mutedByHost: Set<StageSource>;
  readonly since: number;
}

export interface Invite extends StageInvite {
  identity: string;
}

/** Who is asking, as far as the stage cares. */
export interface StageCandidate {
  identity: string;
  name: string;
  role: Role;
}

export interface Expired {
  hands: HandRequest[];
  invites: Invite[];
}

/** A stage as plain JSON (for Redis): every entry, lapsed ones too, in insertion order. */
export interface StageSnapshot {
  hands: HandRequest[];
  invites: Invite[];
  seats: SeatSnapshot[];
  /** The id the next seat taken gets. */
  nextSeatId: number;
}

export interface SeatSnapshot {
  id: number;
  identity: string;
  sources: StageSource[];
  mutedByHost: StageSource[];
  since: number;
}

export interface Forgotten {
  hand: HandRequest | undefined;
  invite: Invite | undefined;
  seat: Seat | undefined;
}

/**
 * The mic-link state of one room: raised hands, pending invitations and guest seats. Pure and
 * synchronous: every transition either completes or throws an AppError and changes nothing.
 * Transitions are serialized by a StageSync (in one process by the event loop; in a cluster by a
 * compare-and-set in Redis), which moves the state around as `snapshot()`/`restore()`. Side
 * effects (media, messages) are the caller's job (rooms/RoomStage).
 */
export class Stage {
  readonly limits: StageLimits;
  readonly #now: () => number;
  readonly #hands = new Map<string, HandRequest>();
  readonly #invites = new Map<string, Invite>();
  readonly #seats = new Map<string, Seat>();
  #nextSeatId = 1;

  constructor(limits: StageLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.#now = now;
  }

  /** The stage exactly as it is made from `snapshot()`; nothing is shared with the snapshot. */
  static restore(limits: StageLimits, snapshot: StageSnapshot, now?: () => number): Stage {
    const stage = new Stage(limits, now);
    for (const hand of snapshot.hands) stage.#hands.set(hand.identity, { ...hand });
    for (const invite of snapshot.invites) {
      stage.#invites.set(invite.identity, { ...invite, sources: [...invite.sources] });
    }
    for (const seat of snapshot.seats) {
      stage.#seats.set(seat.identity, {
        id: seat.id,
        identity: seat.identity,
        sources: new Set(seat.sources),
        mutedByHost: new Set(seat.mutedByHost),
        since: seat.since,
      });
    }
    stage.#nextSeatId = snapshot.nextSeatId;
    return stage;
  }

  /** Everything the stage holds as plain data, sharing nothing with it (see `restore`). */
  snapshot(): StageSnapshot {
    return {
      hands: [...this.#hands.values()].map((hand) => ({ ...hand })),
      invites: [...this.#invites.values()].map((invite) => ({
        ...invite,
        sources: [...invite.sources],
      })),
      seats: [...this.#seats.values()].map((seat) => ({
        id: seat.id,
        identity: seat.identity,
        sources: [...seat.sources],
        mutedByHost: [...seat.mutedByHost],
        since: seat.since,
      })),
      nextSeatId: this.#nextSeatId,
    };
  }

  get guests(): Seat[] {
    return [...this.#seats.values()];
  }

  /** Raised hands still waiting, oldest first. */
  get hands(): HandRequest[] {
    const now = this.#now();
    return [...this.#hands.values()]
      .filter((hand) => hand.expiresAt > now)
      .sort((a, b) => a.raisedAt - b.raisedAt);
  }

  seat(identity: string): Seat | undefined {
    return this.#seats.get(identity);
  }

  hand(identity: string): HandRequest | undefined {
    const hand = this.#hands.get(identity);
    return hand && hand.expiresAt > this.#now() ? hand : undefined;
  }

  invitation(identity: string): Invite | undefined {
    const invite = this.#invites.get(identity);
    return invite && invite.expiresAt > this.#now() ? invite : undefined;
  }

  get full(): boolean {
    return this.#seats.size >= this.limits.maxGuests;
  }

  /** Raising again refreshes the message and the expiry but keeps the place in the queue. */
  raiseHand(who: StageCandidate, message: string): HandRequest {
    if (who.role !== 'audience' || this.#seats.has(who.identity)) {
      throw new AppError('INVALID_STATE', 'already on stage');
    }
    const now = this.#now();
    const previous = this.hand(who.identity);
    const hand: HandRequest = {
      identity: who.identity,
      name: who.name,
      message,
      raisedAt: previous?.raisedAt ?? now,
      expiresAt: now + this.limits.handTtlMs,
    };
    this.#hands.set(who.identity, hand);
    return hand;
  }

  lowerHand(identity: string): HandRequest {
    const hand = this.#requireHand(identity);
    this.#hands.delete(identity);
    return hand;
  }

  approve(identity: string, sources: readonly StageSource[]): Seat {
    if (this.#seats.has(identity)) throw new AppError('INVALID_STATE', 'already on stage');
    this.#requireHand(identity);
    const seat = this.#takeSeat(identity, sources);
    this.#hands.delete(identity);
    this.#invites.delete(identity);
    return seat;
  }

  deny(identity: string): HandRequest {
    return this.lowerHand(identity);
  }

  /** Inviting someone already invited replaces the invitation (new sources, new expiry). */
  invite(from: string, target: StageCandidate, sources: readonly StageSource[]): Invite {
    if (target.role !== 'audience' || this.#seats.has(target.identity)) {
      throw new AppError('INVALID_STATE', 'already on stage');
    }
    if (this.full) throw new AppError('STAGE_FULL', 'the stage is full');
    const invite: Invite = {
      identity: target.identity,
      from,
      sources: normalizeSources(sources),
      expiresAt: this.#now() + this.limits.inviteTtlMs,
    };
    this.#invites.set(target.identity, invite);
    return invite;
  }

  /** A full stage refuses with STAGE_FULL and keeps the invitation, so it can be tried again. */
  acceptInvite(identity: string): Seat {
    const invite = this.#requireInvite(identity);
    if (this.#seats.has(identity)) throw new AppError('INVALID_STATE', 'already on stage');
    const seat = this.#takeSeat(identity, invite.sources);
    this.#invites.delete(identity);
    this.#hands.delete(identity);
    return seat;
  }

  declineInvite(identity: string): Invite {
    const invite = this.#requireInvite(identity);
    this.#invites.delete(identity);
    return invite;
  }

  /** For a participant whose token already makes it a guest. */
  seatDirectly(identity: string, sources: readonly StageSource[]): Seat {
    if (this.#seats.has(identity)) throw new AppError('INVALID_STATE', 'already on stage');
    const seat = this.#takeSeat(identity, sources);
    this.#hands.delete(identity);
    this.#invites.delete(identity);
    return seat;
  }

  unseat(identity: string): Seat {
    const seat = this.#seats.get(identity);
    if (!seat) throw new AppError('NOT_FOUND', 'not on stage');
    this.#seats.delete(identity);
    return seat;
  }

  /** Returns whether anything changed. */
  setMutedByHost(identity: string, source: StageSource, muted: boolean): boolean {
    const seat = this.#seats.get(identity);
    if (!seat) throw new AppError('NOT_FOUND', 'not on stage');
    if (!seat.sources.has(source)) {
      throw new AppError('INVALID_STATE', `${source} is not allowed for this guest`);
    }
    if (seat.mutedByHost.has(source) === muted) return false;
    if (muted) seat.mutedByHost.add(source);
    else seat.mutedByHost.delete(source);
    return true;
  }

  /** Drops everything about a participant who left. */
  forget(identity: string): Forgotten {
    const forgotten = {
      hand: this.hand(identity),
      invite: this.invitation(identity),
      seat: this.#seats.get(identity),
    };
    this.#hands.delete(identity);
    this.#invites.delete(identity);
    this.#seats.delete(identity);
    return forgotten;
  }

  /** Removes and returns what has lapsed. */
  expire(): Expired {
    const now = this.#now();
    const expired: Expired = { hands: [], invites: [] };
    for (const [identity, hand] of this.#hands) {
      if (hand.expiresAt > now) continue;
      this.#hands.delete(identity);
      expired.hands.push(hand);
    }
    for (const [identity, invite] of this.#invites) {
      if (invite.expiresAt > now) continue;
      this.#invites.delete(identity);
      expired.invites.push(invite);
    }
    return expired;
  }

  /** When the next hand or invitation lapses (epoch ms), if any is pending. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const entry of [...this.#hands.values(), ...this.#invites.values()]) {
      if (next === undefined || entry.expiresAt < next) next = entry.expiresAt;
    }
    return next;
  }

  #takeSeat(identity: string, sources: readonly StageSource[]): Seat {
    if (this.full) throw new AppError('STAGE_FULL', 'the stage is full');
    const seat: Seat = {
      id: this.#nextSeatId++,
      identity,
      sources: new Set(normalizeSources(sources)),
      mutedByHost: new Set(),
      since: this.#now(),
    };
    this.#seats.set(identity, seat);
    return seat;
  }

  #requireHand(identity: string): HandRequest {
    const hand = this.hand(identity);
    if (!hand) throw new AppError('NOT_FOUND', 'no raised hand');
    return hand;
  }

  #requireInvite(identity: string): Invite {
    const invite = this.invitation(identity);
    if (!invite) throw new AppError('NOT_FOUND', 'no invitation');
    return invite;
  }
}

/** Known sources only, each once, in a stable order; an empty list is refused. */
function normalizeSources(sources: readonly StageSource[]): StageSource[] {
  const wanted = STAGE_SOURCES.filter((source) => sources.includes(source));
  if (wanted.length === 0) throw new AppError('INVALID_PAYLOAD', 'sources: choose at least one');
  return wanted;
}
