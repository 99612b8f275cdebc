import type { types } from 'mediasoup';
import type {
  HandRequest,
  RoleChangeReason,
  StageInfo,
  StageInvite,
  StageMember,
  StageSource,
  TrackSource,
} from '../../../client-sdk/src/protocol.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { transportOptions } from '../media/transports.js';
import type { Participant } from './Participant.js';
import { STAGE_SOURCES, Stage, stageSourceOf, type Seat, type StageLimits } from './Stage.js';

/** What the stage needs from its room. */
export interface StageRoom {
  readonly participants: ReadonlyMap<string, Participant>;
  createTransport(
    participant: Participant,
    direction: 'send' | 'recv',
  ): Promise<types.WebRtcTransport>;
  /** A participant came on stage: everyone must know it now, even in a large room. */
  cameOnStage(participant: Participant): void;
}

/**
 * Mic-link for one room: runs the Stage state machine and carries out what each transition
 * means for media and for the people in the room. Every rule is enforced here, on the server;
 * the SDK only reflects it.
 */
export class RoomStage {
  readonly stage: Stage;
  readonly #room: StageRoom;
  readonly #log: Logger;
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(room: StageRoom, limits: StageLimits, log: Logger, now?: () => number) {
    this.#room = room;
    this.stage = new Stage(limits, now);
    this.#log = log;
  }

  info(): StageInfo {
    const hosts = this.#joined().filter((p) => p.role === 'host' && !p.grants.hidden);
    const members: StageMember[] = hosts.map((host) => ({
      identity: host.identity,
      name: host.info().name,
      role: 'host',
      sources: host.grants.canPublish ? [...STAGE_SOURCES] : [],
      mutedByHost: [],
    }));
    for (const seat of this.stage.guests) {
      const guest = this.#room.participants.get(seat.identity);
      if (!guest?.joined || guest.closed) continue;
      members.push({
        identity: seat.identity,
        name: guest.info().name,
        role: 'guest',
        sources: [...seat.sources],
        mutedByHost: [...seat.mutedByHost],
      });
    }
    return { members, maxGuests: this.stage.limits.maxGuests };
  }

  handQueueFor(participant: Participant): HandRequest[] {
    return participant.role === 'host' ? this.stage.hands : [];
  }

  // ---- lifecycle, called by the room

  /**
   * A token that says "guest" (and may publish) takes a seat when it joins, if one is free
   * (STAGE_FULL otherwise): a connection that never joins holds nothing.
   */
  seatOnJoin(participant: Participant): void {
    if (participant.grants.role !== 'guest' || !participant.grants.canPublish) return;
    if (participant.grants.hidden || participant.seat) return;
    participant.seat = this.stage.seatDirectly(participant.identity, STAGE_SOURCES);
  }

  /** Undoes seatOnJoin for a join that failed. */
  seatRevoked(participant: Participant): void {
    if (!participant.seat) return;
    this.stage.forget(participant.identity);
    participant.seat = undefined;
  }

  joined(participant: Participant): void {
    if (participant.role !== 'audience' && !participant.grants.hidden) this.#broadcastStage();
  }

  left(participant: Participant): void {
    const { hand, invite, seat } = this.stage.forget(participant.identity);
    participant.seat = undefined;
    if (hand)
      this.#toHosts((host) =>
        host.emit('handLowered', { identity: hand.identity, reason: 'left' }),
      );
    if (invite) {
      const ended = { identity: invite.identity, reason: 'left' as const };
      this.#toHosts((host) => host.emit('inviteEnded', ended));
    }
    if (seat || (participant.role === 'host' && participant.joined)) this.#broadcastStage();
    this.#scheduleExpiry();
  }

  close(): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  // ---- requests

  raiseHand(participant: Participant, message: string): HandRequest {
    if (participant.grants.hidden) {
      throw new AppError('FORBIDDEN', 'hidden participants cannot go on stage');
    }
    const hand = this.stage.raiseHand(
      { identity: participant.identity, name: participant.info().name, role: participant.role },
      message,
    );
    this.#toHosts((host) => host.emit('handRaised', hand));
    this.#scheduleExpiry();
    return hand;
  }

  lowerHand(participant: Participant): void {
    const hand = this.stage.lowerHand(participant.identity);
    this.#handLowered(hand.identity, 'lowered');
  }

  approve(host: Participant, identity: string, sources: readonly StageSource[]): void {
    requireHost(host);
    const guest = this.#present(identity);
    const invited = this.stage.invitation(identity) !== undefined;
    const seat = this.stage.approve(identity, sources);
    this.#handLowered(identity, 'approved');
    if (invited) this.#inviteEnded(identity, 'cancelled');
    void this.#promote(guest, seat, 'approved', false);
  }

  deny(host: Participant, identity: string): void {
    requireHost(host);
    this.stage.deny(identity);
    this.#handLowered(identity, 'denied');
  }

  invite(host: Participant, identity: string, sources: readonly StageSource[]): StageInvite {
    requireHost(host);
    const target = this.#present(identity);
    if (target.grants.hidden) throw new AppError('NOT_FOUND', 'no such participant');
    const invite = this.stage.invite(
      host.identity,
      { identity, name: target.info().name, role: target.role },
      sources,
    );
    const { from, expiresAt } = invite;
    target.emit('inviteReceived', { from, sources: invite.sources, expiresAt });
    this.#scheduleExpiry();
    return { from, sources: invite.sources, expiresAt };
  }

  /** Runs in the accepting participant's own request queue, so the seat is ready on return. */
  async acceptInvite(participant: Participant): Promise<void> {
    const hadHand = this.stage.hand(participant.identity) !== undefined;
    const seat = this.stage.acceptInvite(participant.identity);
    this.#inviteEnded(participant.identity, 'accepted');
    if (hadHand) this.#handLowered(participant.identity, 'approved');
    await this.#promote(participant, seat, 'invite-accepted', true);
  }

  declineInvite(participant: Participant): void {
    this.stage.declineInvite(participant.identity);
    this.#inviteEnded(participant.identity, 'declined');
  }

  removeFromStage(host: Participant, identity: string): void {
    requireHost(host);
    const guest = this.#present(identity);
    this.stage.unseat(identity);
    this.#demote(guest, 'removed-by-host');
  }

  leaveStage(participant: Participant): void {
    if (participant.role === 'host')
      throw new AppError('INVALID_STATE', 'hosts are always on stage');
    this.stage.unseat(participant.identity);
    this.#demote(participant, 'left-stage');
  }

  async mute(
    host: Participant,
    identity: string,
    source: StageSource,
    muted: boolean,
  ): Promise<void> {
    requireHost(host);
    const guest = this.#present(identity);
    if (!this.stage.setMutedByHost(identity, source, muted)) return;
    const tracks = [...guest.tracks.values()].filter((t) => stageSourceOf(t.source) === source);
    await Promise.all(
      tracks.map(async (track) => {
        if (muted) await track.producer.pause();
        else if (!track.pausedByOwner) await track.producer.resume();
      }),
    );
    guest.emit('mutedByHost', { source, muted });
    this.#broadcastStage();
  }

  /** A track published while its source is muted by a host starts paused. */
  async applyHostMute(
    participant: Participant,
    producer: types.Producer,
    source: TrackSource,
  ): Promise<void> {
    if (participant.isMutedByHost(source)) await producer.pause();
  }

  // ---- effects

  async #promote(
    participant: Participant,
    seat: Seat,
    reason: RoleChangeReason,
    inOwnQueue: boolean,
  ): Promise<void> {
    participant.seat = seat;
    this.#room.cameOnStage(participant);
    this.#broadcastStage();
    const openTransport = () => this.#openSendTransport(participant, seat, reason);
    try {
      await (inOwnQueue ? openTransport() : participant.requests.run(openTransport));
    } catch (error) {
      if (participant.seat !== seat || participant.closed) return;
      this.#log.error('could not bring a participant on stage', {
        participantId: participant.identity,
        error: String(error),
      });
      this.stage.forget(participant.identity);
      this.#demote(participant, reason);
      if (inOwnQueue) throw error;
    }
  }

  async #openSendTransport(
    participant: Participant,
    seat: Seat,
    reason: RoleChangeReason,
  ): Promise<void> {
    if (participant.seat !== seat || participant.closed) return;
    const transport =
      participant.sendTransport ?? (await this.#room.createTransport(participant, 'send'));
    // Taken off stage (or gone) while the transport was being made: nothing may remain.
    if (participant.seat !== seat || participant.closed) {
      transport.close();
      return;
    }
    participant.emit('roleChanged', {
      role: 'guest',
      sources: [...seat.sources],
      sendTransport: transportOptions(transport),
      reason,
    });
  }

  /** Off stage: every track closes now (so every consumer of it ends) and publishing stops. */
  #demote(participant: Participant, reason: RoleChangeReason): void {
    participant.seat = undefined;
    for (const track of [...participant.tracks.values()]) track.producer.close();
    participant.sendTransport?.close();
    participant.emit('roleChanged', { role: 'audience', sources: [], sendTransport: null, reason });
    this.#broadcastStage();
  }

  #handLowered(identity: string, reason: 'lowered' | 'approved' | 'denied'): void {
    const event = { identity, reason };
    this.#toHosts((host) => host.emit('handLowered', event));
    this.#room.participants.get(identity)?.emit('handLowered', event);
  }

  #inviteEnded(identity: string, reason: 'accepted' | 'declined' | 'expired' | 'cancelled'): void {
    const event = { identity, reason };
    this.#toHosts((host) => host.emit('inviteEnded', event));
    this.#room.participants.get(identity)?.emit('inviteEnded', event);
  }

  #scheduleExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const next = this.stage.nextExpiry();
    if (next === undefined) return;
    this.#expiryTimer = setTimeout(() => this.#expire(), Math.max(0, next - Date.now()) + 5);
    this.#expiryTimer.unref();
  }

  #expire(): void {
    const { hands, invites } = this.stage.expire();
    for (const hand of hands) {
      const event = { identity: hand.identity, reason: 'expired' as const };
      this.#toHosts((host) => host.emit('handLowered', event));
      this.#room.participants.get(hand.identity)?.emit('handLowered', event);
    }
    for (const invite of invites) this.#inviteEnded(invite.identity, 'expired');
    this.#scheduleExpiry();
  }

  #present(identity: string): Participant {
    const participant = this.#room.participants.get(identity);
    if (!participant?.joined || participant.closed) {
      throw new AppError('NOT_FOUND', 'no such participant');
    }
    return participant;
  }

  #joined(): Participant[] {
    return [...this.#room.participants.values()].filter((p) => p.joined && !p.closed);
  }

  #toHosts(send: (host: Participant) => void): void {
    for (const participant of this.#joined()) if (participant.role === 'host') send(participant);
  }

  #broadcastStage(): void {
    const info = this.info();
    for (const participant of this.#joined()) participant.emit('stageChanged', info);
  }
}

function requireHost(participant: Participant): void {
  if (participant.role !== 'host') throw new AppError('FORBIDDEN', 'only a host may do this');
}
