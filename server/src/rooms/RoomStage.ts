import type { types } from 'mediasoup';
import type {
  HandRequest,
  RoleChangeReason,
  StageInfo,
  StageInvite,
  StageMember,
  StageSource,
  TrackSource,
} from '@livestage/protocol';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { transportOptions } from '../media/transports.js';
import type { Participant } from './Participant.js';
import type { RoomEvents } from './RoomEvents.js';
import {
  STAGE_SOURCES,
  Stage,
  stageSourceOf,
  type Seat,
  type StageLimits,
  type StageSnapshot,
} from './Stage.js';
import {
  LocalStageSync,
  type StageChangeFn,
  type StageEffect,
  type StageReplica,
  type StageSync,
  type StageSyncFactory,
} from './StageSync.js';

/** What the stage needs from its room. */
export interface StageRoom {
  readonly participants: ReadonlyMap<string, Participant>;
  createTransport(
    participant: Participant,
    direction: 'send' | 'recv',
  ): Promise<types.WebRtcTransport>;
  /** A participant came on stage: everyone must know it now, even in a large room. */
  cameOnStage(participant: Participant): void;
  readonly name: string;
  readonly lifecycle: RoomEvents;
}

export interface RoomStageOptions {
  /** The stage's clock (tests). */
  now?: () => number;
  /** How transitions are committed: in this process (the default) or across a cluster. */
  sync?: StageSyncFactory;
}

/**
 * Mic-link for one room: runs the Stage state machine and carries out what each transition
 * means for media and for the people in the room. Every rule is enforced here, on the server;
 * the SDK only reflects it.
 *
 * Every transition goes through the room's StageSync as a change that returns its effects; the
 * sync commits it (in a cluster, once for all nodes) and calls `applyCommitted` on every node,
 * which replaces the mirror (`stage`) and carries the effects out for that node's participants.
 * A request is answered once its transition is committed and applied here.
 */
export class RoomStage implements StageReplica {
  readonly #room: StageRoom;
  readonly #log: Logger;
  readonly #now: (() => number) | undefined;
  readonly #sync: StageSync;
  #stage: Stage;
  /** The seat each participant took in `seatOnJoin`, which `seatRevoked` may give back. */
  readonly #seatedOnJoin = new WeakMap<Participant, number>();
  #expiryTimer: NodeJS.Timeout | undefined;
  /** What the expiry timer is set for. */
  #expiryAt: number | undefined;
  #closed = false;

  constructor(room: StageRoom, limits: StageLimits, log: Logger, options: RoomStageOptions = {}) {
    this.#room = room;
    this.#log = log;
    this.#now = options.now;
    this.#stage = new Stage(limits, options.now);
    this.#sync = (options.sync ?? ((replica) => new LocalStageSync(replica)))(this);
  }

  /** This node's copy of the stage, as last committed. */
  get stage(): Stage {
    return this.#stage;
  }

  restore(snapshot: StageSnapshot): Stage {
    return Stage.restore(this.#stage.limits, snapshot, this.#now);
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
    for (const seat of this.#stage.guests) {
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
    return { members, maxGuests: this.#stage.limits.maxGuests };
  }

  handQueueFor(participant: Participant): HandRequest[] {
    return participant.role === 'host' ? this.#stage.hands : [];
  }

  // ---- lifecycle, called by the room

  /**
   * A token that says "guest" (and may publish) takes a seat when it joins, if one is free
   * (STAGE_FULL otherwise): a connection that never joins holds nothing. Someone who holds a seat
   * already (in a cluster: it moved here from another node) keeps it.
   */
  async seatOnJoin(participant: Participant): Promise<void> {
    if (!participant.closed) participant.seat ??= this.#stage.seat(participant.identity);
    if (participant.grants.role !== 'guest' || !participant.grants.canPublish) return;
    if (participant.grants.hidden || participant.seat) return;
    const { identity } = participant;
    const seat = await this.#sync.transact((stage) => ({
      result: stage.seatDirectly(identity, STAGE_SOURCES),
      effects: [],
    }));
    // The mirror's (committed) seat; undefined if it is already gone again.
    participant.seat =
      this.#stage.seat(identity)?.id === seat.id ? this.#stage.seat(identity) : undefined;
    this.#seatedOnJoin.set(participant, seat.id);
  }

  /** Undoes seatOnJoin for a join that failed. Never rejects: the join's own error matters. */
  async seatRevoked(participant: Participant): Promise<void> {
    const seatId = this.#seatedOnJoin.get(participant);
    this.#seatedOnJoin.delete(participant);
    participant.seat = undefined;
    if (seatId === undefined) return;
    const { identity } = participant;
    await this.#sync
      .transact((stage) => {
        if (stage.seat(identity)?.id === seatId) stage.forget(identity);
        return { result: undefined, effects: [] };
      })
      .catch((error: unknown) => this.#failed('could not give back a seat', error));
  }

  joined(participant: Participant): void {
    if (participant.role !== 'audience' && !participant.grants.hidden) this.#broadcastStage();
  }

  /**
   * The participant is gone from this node: its hand, invitation and seat are dropped (not
   * awaited). With `keepSeat` the stage keeps all three: it lives on elsewhere (it moved to
   * another node of the cluster).
   */
  left(participant: Participant, options: { keepSeat?: boolean } = {}): void {
    participant.seat = undefined;
    this.#seatedOnJoin.delete(participant);
    if (options.keepSeat) return;
    const { identity } = participant;
    const wasJoinedHost = participant.role === 'host' && participant.joined;
    this.#transactInBackground('forget a participant who left', (stage) => {
      const { hand, invite, seat } = stage.forget(identity);
      const effects: StageEffect[] = [];
      if (hand) effects.push({ type: 'handLowered', identity, reason: 'left' });
      if (invite) effects.push({ type: 'inviteEnded', identity, reason: 'left' });
      if (seat || wasJoinedHost) effects.push({ type: 'stageChanged' });
      return { result: undefined, effects };
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = undefined;
    this.#sync.close();
  }

  // ---- requests

  async raiseHand(participant: Participant, message: string): Promise<HandRequest> {
    if (participant.grants.hidden) {
      throw new AppError('FORBIDDEN', 'hidden participants cannot go on stage');
    }
    const who = {
      identity: participant.identity,
      name: participant.info().name,
      role: participant.role,
    };
    return this.#sync.transact((stage) => {
      const hand = stage.raiseHand(who, message);
      return { result: hand, effects: [{ type: 'handRaised', hand }] };
    });
  }

  async lowerHand(participant: Participant): Promise<void> {
    const { identity } = participant;
    await this.#sync.transact((stage) => {
      stage.lowerHand(identity);
      return { result: undefined, effects: [{ type: 'handLowered', identity, reason: 'lowered' }] };
    });
  }

  async approve(
    host: Participant,
    identity: string,
    sources: readonly StageSource[],
  ): Promise<void> {
    requireHost(host);
    this.#present(identity);
    await this.#sync.transact((stage) => {
      const invited = stage.invitation(identity) !== undefined;
      stage.approve(identity, sources);
      const effects: StageEffect[] = [{ type: 'handLowered', identity, reason: 'approved' }];
      if (invited) effects.push({ type: 'inviteEnded', identity, reason: 'cancelled' });
      effects.push({ type: 'seated', identity, reason: 'approved' });
      return { result: undefined, effects };
    });
  }

  async deny(host: Participant, identity: string): Promise<void> {
    requireHost(host);
    await this.#sync.transact((stage) => {
      stage.deny(identity);
      return { result: undefined, effects: [{ type: 'handLowered', identity, reason: 'denied' }] };
    });
  }

  async invite(
    host: Participant,
    identity: string,
    sources: readonly StageSource[],
  ): Promise<StageInvite> {
    requireHost(host);
    const target = this.#present(identity);
    if (target.grants.hidden) throw new AppError('NOT_FOUND', 'no such participant');
    const candidate = { identity, name: target.info().name, role: target.role };
    return this.#sync.transact((stage) => {
      const { from, sources: invited, expiresAt } = stage.invite(host.identity, candidate, sources);
      const invite: StageInvite = { from, sources: [...invited], expiresAt };
      return { result: invite, effects: [{ type: 'inviteReceived', identity, invite }] };
    });
  }

  /**
   * Runs in the accepting participant's own request queue: its send transport is opened here,
   * so the seat is ready on return.
   */
  async acceptInvite(participant: Participant): Promise<void> {
    const { identity } = participant;
    const seat = await this.#sync.transact((stage) => {
      const hadHand = stage.hand(identity) !== undefined;
      const seat = stage.acceptInvite(identity);
      const effects: StageEffect[] = [{ type: 'inviteEnded', identity, reason: 'accepted' }];
      if (hadHand) effects.push({ type: 'handLowered', identity, reason: 'approved' });
      effects.push({ type: 'seated', identity, reason: 'invite-accepted' });
      return { result: seat, effects };
    });
    await this.#bringOnStage(participant, seat, 'invite-accepted', true);
  }

  async declineInvite(participant: Participant): Promise<void> {
    const { identity } = participant;
    await this.#sync.transact((stage) => {
      stage.declineInvite(identity);
      return {
        result: undefined,
        effects: [{ type: 'inviteEnded', identity, reason: 'declined' }],
      };
    });
  }

  async removeFromStage(host: Participant, identity: string): Promise<void> {
    requireHost(host);
    this.#present(identity);
    await this.#unseat(identity, 'removed-by-host');
  }

  async leaveStage(participant: Participant): Promise<void> {
    if (participant.role === 'host')
      throw new AppError('INVALID_STATE', 'hosts are always on stage');
    await this.#unseat(participant.identity, 'left-stage');
  }

  /** Answered once the guest's tracks here are paused or resumed (on its node, if it is here). */
  async mute(
    host: Participant,
    identity: string,
    source: StageSource,
    muted: boolean,
  ): Promise<void> {
    requireHost(host);
    this.#present(identity);
    await this.#sync.transact((stage) => {
      if (!stage.setMutedByHost(identity, source, muted)) return { result: undefined, effects: [] };
      return { result: undefined, effects: [{ type: 'mutedByHost', identity, source, muted }] };
    });
  }

  /** A track published while its source is muted by a host starts paused. */
  async applyHostMute(
    participant: Participant,
    producer: types.Producer,
    source: TrackSource,
  ): Promise<void> {
    if (participant.isMutedByHost(source)) await producer.pause();
  }

  async #unseat(identity: string, reason: RoleChangeReason): Promise<void> {
    await this.#sync.transact((stage) => {
      stage.unseat(identity);
      return { result: undefined, effects: [{ type: 'unseated', identity, reason }] };
    });
  }

  // ---- committed transitions

  /** Connected to this node (so this node tells observers about it). */
  #isLocal(identity: string): boolean {
    const participant = this.#room.participants.get(identity);
    return participant !== undefined && !participant.remote;
  }

  async applyCommitted(stage: Stage, effects: readonly StageEffect[]): Promise<void> {
    this.#stage = stage;
    for (const participant of this.#room.participants.values()) {
      participant.seat = stage.seat(participant.identity);
    }
    const mutes: Promise<void>[] = [];
    for (const effect of effects) {
      switch (effect.type) {
        case 'handRaised':
          this.#toHosts((host) => host.emit('handRaised', effect.hand));
          if (this.#isLocal(effect.hand.identity)) {
            this.#room.lifecycle.tell('handRaised', this.#room.name, effect.hand);
          }
          break;
        case 'handLowered': {
          const event = { identity: effect.identity, reason: effect.reason };
          this.#toHosts((host) => host.emit('handLowered', event));
          if (effect.reason !== 'left')
            this.#participant(effect.identity)?.emit('handLowered', event);
          break;
        }
        case 'inviteReceived':
          this.#participant(effect.identity)?.emit('inviteReceived', effect.invite);
          break;
        case 'inviteEnded': {
          const event = { identity: effect.identity, reason: effect.reason };
          this.#toHosts((host) => host.emit('inviteEnded', event));
          if (effect.reason !== 'left')
            this.#participant(effect.identity)?.emit('inviteEnded', event);
          break;
        }
        case 'seated':
          this.#seated(effect.identity, effect.reason);
          if (this.#isLocal(effect.identity)) {
            this.#room.lifecycle.tell('stageJoined', this.#room.name, effect.identity);
          }
          break;
        case 'unseated':
          this.#unseated(effect.identity, effect.reason);
          if (this.#isLocal(effect.identity)) {
            this.#room.lifecycle.tell('stageLeft', this.#room.name, effect.identity);
          }
          break;
        case 'mutedByHost':
          mutes.push(this.#mutedByHost(effect.identity, effect.source, effect.muted));
          break;
        case 'stageChanged':
          this.#broadcastStage();
          break;
      }
    }
    this.#scheduleExpiry();
    await Promise.all(mutes);
  }

  /** On stage: everyone hears of it; on its own node it gets a send transport on its queue. */
  #seated(identity: string, reason: RoleChangeReason): void {
    const participant = this.#participant(identity);
    if (participant) this.#room.cameOnStage(participant);
    this.#broadcastStage();
    const seat = participant?.seat;
    // An accepted invitation opens the transport in the accepting request itself.
    if (!participant || participant.remote || !seat || reason === 'invite-accepted') return;
    void this.#bringOnStage(participant, seat, reason, false);
  }

  /**
   * Opens a new guest's send transport and tells it its role, in its own queue (`inOwnQueue`:
   * the caller runs in it). If that fails, the seat is given back and, in its own queue, the
   * error is rethrown.
   */
  async #bringOnStage(
    participant: Participant,
    seat: Seat,
    reason: RoleChangeReason,
    inOwnQueue: boolean,
  ): Promise<void> {
    const openTransport = () => this.#openSendTransport(participant, seat, reason);
    try {
      await (inOwnQueue ? openTransport() : participant.requests.run(openTransport));
    } catch (error) {
      if (participant.seat?.id !== seat.id || participant.closed) return;
      this.#log.error('could not bring a participant on stage', {
        participantId: participant.identity,
        error: String(error),
      });
      const { identity } = participant;
      await this.#sync
        .transact((stage) => {
          if (stage.seat(identity)?.id !== seat.id) return { result: undefined, effects: [] };
          stage.forget(identity);
          return { result: undefined, effects: [{ type: 'unseated', identity, reason }] };
        })
        .catch((failure: unknown) => this.#failed('could not give back a seat', failure));
      if (inOwnQueue) throw error;
    }
  }

  async #openSendTransport(
    participant: Participant,
    seat: Seat,
    reason: RoleChangeReason,
  ): Promise<void> {
    if (participant.seat?.id !== seat.id || participant.closed) return;
    const transport =
      participant.sendTransport ?? (await this.#room.createTransport(participant, 'send'));
    // Taken off stage (or gone) while the transport was being made: nothing may remain.
    if (participant.seat?.id !== seat.id || participant.closed) {
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

  /** Off stage: on its own node every track closes now (so every consumer of it ends). */
  #unseated(identity: string, reason: RoleChangeReason): void {
    const participant = this.#participant(identity);
    if (participant && !participant.remote) {
      for (const track of [...participant.tracks.values()]) track.producer.close();
      participant.sendTransport?.close();
    }
    participant?.emit('roleChanged', {
      role: 'audience',
      sources: [],
      sendTransport: null,
      reason,
    });
    this.#broadcastStage();
  }

  /** On the guest's own node its tracks of `source` pause or resume before anyone is told. */
  async #mutedByHost(identity: string, source: StageSource, muted: boolean): Promise<void> {
    const guest = this.#participant(identity);
    if (guest && !guest.remote) {
      const tracks = [...guest.tracks.values()].filter((t) => stageSourceOf(t.source) === source);
      await Promise.all(
        tracks.map(async ({ producer, pausedByOwner }) => {
          try {
            if (muted) await producer.pause();
            else if (!pausedByOwner) await producer.resume();
          } catch (error) {
            if (!producer.closed) this.#failed('could not apply a host mute', error);
          }
        }),
      );
    }
    guest?.emit('mutedByHost', { source, muted });
    this.#broadcastStage();
  }

  // ---- expiry

  #scheduleExpiry(): void {
    if (this.#closed) return;
    const next = this.#stage.nextExpiry();
    if (this.#expiryTimer && next === this.#expiryAt) return;
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = next;
    if (next === undefined) return;
    this.#expiryTimer = setTimeout(() => this.#expire(), Math.max(0, next - Date.now()) + 5);
    this.#expiryTimer.unref();
  }

  /** Every node runs this timer; the first to commit expires, the others find nothing to do. */
  #expire(): void {
    this.#expiryTimer = undefined;
    this.#expiryAt = undefined;
    this.#transactInBackground(
      'expire hands and invitations',
      (stage) => {
        const { hands, invites } = stage.expire();
        const effects: StageEffect[] = [
          ...hands.map(({ identity }): StageEffect => ({
            type: 'handLowered',
            identity,
            reason: 'expired',
          })),
          ...invites.map(({ identity }): StageEffect => ({
            type: 'inviteEnded',
            identity,
            reason: 'expired',
          })),
        ];
        return { result: undefined, effects };
      },
      () => this.#scheduleExpiry(),
    );
  }

  // ---- helpers

  #transactInBackground(
    what: string,
    change: StageChangeFn<undefined>,
    then: () => void = () => undefined,
  ): void {
    void this.#sync.transact(change).then(then, (error: unknown) => {
      this.#failed(`could not ${what}`, error);
      then();
    });
  }

  #failed(what: string, error: unknown): void {
    this.#log.error(what, { error: String(error) });
  }

  #participant(identity: string): Participant | undefined {
    return this.#room.participants.get(identity);
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
