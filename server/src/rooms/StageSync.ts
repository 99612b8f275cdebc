import type {
  HandLoweredReason,
  HandRequest,
  InviteEndedReason,
  RoleChangeReason,
  StageInvite,
  StageSource,
} from '@livestage/protocol';
import type { Stage, StageSnapshot } from './Stage.js';

/**
 * What a committed stage transition means for the people in the room, as plain JSON (it travels
 * between nodes). Every node carries out each effect for its own participants, in list order.
 */
export type StageEffect =
  /** To hosts. */
  | { type: 'handRaised'; hand: HandRequest }
  /** To hosts, and to the hand's owner unless the reason is 'left'. */
  | { type: 'handLowered'; identity: string; reason: HandLoweredReason }
  /** To the invitee. */
  | { type: 'inviteReceived'; identity: string; invite: StageInvite }
  /** To hosts, and to the invitee unless the reason is 'left'. */
  | { type: 'inviteEnded'; identity: string; reason: InviteEndedReason }
  /**
   * Came on stage: everyone hears of it (participantJoined where needed, stageChanged); its own
   * node opens its send transport and sends it roleChanged, except for 'invite-accepted', where
   * the accepting request does that itself before its ack.
   */
  | { type: 'seated'; identity: string; reason: RoleChangeReason }
  /** Off stage: its own node closes its tracks and send transport; roleChanged, stageChanged. */
  | { type: 'unseated'; identity: string; reason: RoleChangeReason }
  /** Its own node pauses or resumes its tracks of `source` first; mutedByHost, stageChanged. */
  | { type: 'mutedByHost'; identity: string; source: StageSource; muted: boolean }
  /** The members changed otherwise (a guest or a host left): everyone gets stageChanged. */
  | { type: 'stageChanged' };

/**
 * A transition as a StageSync runs it: `result` for the caller, `effects` for the room. A change
 * may run more than once (a compare-and-set retry) and on a copy of the stage: it must touch
 * nothing but the stage it is given. A change that leaves the stage as it was and lists no effects
 * commits nothing (see `commitsNothing`): nothing is written, nothing applied.
 */
export interface StageChange<T> {
  result: T;
  effects: StageEffect[];
}

export type StageChangeFn<T> = (stage: Stage) => StageChange<T>;

/** The room's stage as one node holds it: the mirror a sync keeps up to date. */
export interface StageReplica {
  /** The node's current copy of the stage (do not change it: go through `transact`). */
  readonly stage: Stage;
  /** A stage with these limits and this clock, made from `snapshot`. */
  restore(snapshot: StageSnapshot): Stage;
  /**
   * Takes a committed state as the new mirror and carries out `effects` for this node's
   * participants. Call it for every commit, in commit order, each once. Everything synchronous
   * (the mirror, seats, messages, demotions) is done when it returns; the promise settles once a
   * host mute has paused or resumed this node's tracks and said so. It never rejects.
   */
  applyCommitted(stage: Stage, effects: readonly StageEffect[]): Promise<void>;
}

/** How a room's stage transitions are serialized: in this process, or across a cluster. */
export interface StageSync {
  /**
   * Runs `change` on the room's current stage. If it throws (an AppError), nothing changes and
   * the error is rethrown. Otherwise the new state is committed and `applyCommitted(stage,
   * effects)` has run on this node, its promise settled, before this one resolves.
   */
  transact<T>(change: StageChangeFn<T>): Promise<T>;
  close(): void;
}

/** Builds a room's sync around the replica it keeps up to date. */
export type StageSyncFactory = (replica: StageReplica) => StageSync;

/** Did a change leave the stage as it was (`before`: JSON of its snapshot) with nothing to tell? */
export function commitsNothing(
  before: string,
  after: Stage,
  effects: readonly StageEffect[],
): boolean {
  return effects.length === 0 && JSON.stringify(after.snapshot()) === before;
}

/**
 * One process, no Redis: the change runs on a copy of the mirror (so a change that throws half
 * way leaves nothing behind), and the copy becomes the mirror with its effects applied, all in
 * the same turn of the event loop as the call. Transitions cannot interleave.
 */
export class LocalStageSync implements StageSync {
  readonly #replica: StageReplica;

  constructor(replica: StageReplica) {
    this.#replica = replica;
  }

  async transact<T>(change: StageChangeFn<T>): Promise<T> {
    const before = this.#replica.stage.snapshot();
    const draft = this.#replica.restore(before);
    const { result, effects } = change(draft);
    if (!commitsNothing(JSON.stringify(before), draft, effects)) {
      await this.#replica.applyCommitted(draft, effects);
    }
    return result;
  }

  /** Nothing to let go of. */
  close(): void {}
}
