import type { RemoteParticipant } from './participants.js';
import type {
  HandLowered,
  HandRequest,
  InviteEnded,
  StageInfo,
  StageInvite,
  StageMember,
} from './protocol.js';

/** What this client knows about the stage: its members, the hand queue and its own invitation. */
export class StageState {
  info: StageInfo;
  /** An invitation to this client that is still open. */
  invite: StageInvite | null = null;
  readonly #hands = new Map<string, HandRequest>();

  constructor(info: StageInfo, hands: readonly HandRequest[]) {
    this.info = info;
    for (const hand of hands) this.#hands.set(hand.identity, hand);
  }

  /** Raised hands waiting for a host, oldest first (filled for hosts only). */
  get handQueue(): HandRequest[] {
    return [...this.#hands.values()].sort((a, b) => a.raisedAt - b.raisedAt);
  }

  member(identity: string): StageMember | undefined {
    return this.info.members.find((member) => member.identity === identity);
  }

  handRaised(hand: HandRequest): void {
    this.#hands.set(hand.identity, hand);
  }

  handLowered(event: HandLowered): void {
    this.#hands.delete(event.identity);
  }

  /** Applies a new stage and brings the remote participants' roles in line with it. */
  stageChanged(info: StageInfo, participants: Iterable<RemoteParticipant>): void {
    this.info = info;
    for (const participant of participants) {
      const member = this.member(participant.identity);
      if (member) participant.role = member.role;
      else if (participant.role === 'guest') participant.role = 'audience';
    }
  }

  inviteReceived(invite: StageInvite): void {
    this.invite = invite;
  }

  inviteEnded(event: InviteEnded, self: string): void {
    if (event.identity === self) this.invite = null;
  }
}
