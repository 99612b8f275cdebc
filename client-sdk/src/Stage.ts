import type { RemoteParticipant } from './participants.js';
import type {
  HandRequest,
  JoinResponse,
  RoleChanged,
  StageInfo,
  StageInvite,
  StageSource,
} from './protocol.js';
import type { Publishing } from './Publishing.js';
import type { RoomContext } from './roomContext.js';
import { StageState } from './StageState.js';
import type { Transports } from './Transports.js';

export interface StageSeatOptions {
  /** What the guest may publish; defaults to microphone and camera. */
  sources?: StageSource[];
}

/** What the stage changes in this client's media when its role or a host's mute changes. */
export interface StageMedia {
  publishing: Publishing;
  transports: Transports;
}

/**
 * Mic-link: raised hands, invitations, who is on stage, this client's own role (coming on stage
 * opens a send transport and, with autoPublishOnStage, publishes) and a host's mutes of it.
 */
export class Stage {
  readonly #context: RoomContext;
  readonly #media: StageMedia;
  readonly #autoPublishOnStage: boolean;
  #state = new StageState({ members: [], maxGuests: 0 }, []);
  #sources: StageSource[] = [];
  /** Role changes are applied one after another (publishing on stage takes a while). */
  #roleChain: Promise<void> = Promise.resolve();

  constructor(
    context: RoomContext,
    participants: ReadonlyMap<string, RemoteParticipant>,
    media: StageMedia,
    autoPublishOnStage: boolean,
  ) {
    this.#context = context;
    this.#media = media;
    this.#autoPublishOnStage = autoPublishOnStage;
    const { signaling, emit, reportError, localParticipant } = context;
    signaling.on('handRaised', (hand) => {
      this.#state.handRaised(hand);
      emit('handRaised', hand);
    });
    signaling.on('handLowered', (event) => {
      this.#state.handLowered(event);
      emit('handLowered', event);
    });
    signaling.on('stageChanged', (info) => {
      this.#state.stageChanged(info, participants.values());
      emit('stageChanged', info);
    });
    signaling.on('inviteReceived', (invite) => {
      this.#state.inviteReceived(invite);
      emit('inviteReceived', invite);
    });
    signaling.on('inviteEnded', (event) => {
      this.#state.inviteEnded(event, localParticipant.identity);
      emit('inviteEnded', event);
    });
    signaling.on('roleChanged', (event) => {
      this.#roleChain = this.#roleChain
        .then(() => this.#onRoleChanged(event))
        .catch((error: unknown) => reportError(error));
    });
    signaling.on('mutedByHost', ({ source, muted }) => {
      media.publishing.applyHostMute(source, muted);
      emit('mutedByHost', source, muted);
    });
  }

  /** Who is on stage: hosts first, then guests. */
  get info(): StageInfo {
    return this.#state.info;
  }

  /** Hosts: raised hands waiting for a decision, oldest first. Empty for everyone else. */
  get handQueue(): HandRequest[] {
    return this.#state.handQueue;
  }

  /** An invitation to the stage this client has not answered yet. */
  get invite(): StageInvite | null {
    return this.#state.invite;
  }

  /** What this client may publish while on stage (empty in the audience). */
  get sources(): StageSource[] {
    return [...this.#sources];
  }

  /** A join's answer replaces what this client knew of the stage. */
  reset(joined: JoinResponse): void {
    this.#state = new StageState(joined.stage, joined.handQueue);
    this.#sources = this.#state.member(joined.self.identity)?.sources ?? [];
  }

  /** A host has this client's `source` muted. */
  isMutedByHost(source: StageSource): boolean {
    const self = this.#state.member(this.#context.localParticipant.identity);
    return self?.mutedByHost.includes(source) ?? false;
  }

  async raiseHand(message?: string): Promise<HandRequest> {
    return this.#context.signaling.request('raiseHand', message === undefined ? {} : { message });
  }

  async lowerHand(): Promise<void> {
    await this.#context.signaling.request('lowerHand', {});
  }

  async approveHand(identity: string, options: StageSeatOptions = {}): Promise<void> {
    await this.#context.signaling.request('approveHand', { identity, ...options });
  }

  async denyHand(identity: string): Promise<void> {
    await this.#context.signaling.request('denyHand', { identity });
  }

  async inviteToStage(identity: string, options: StageSeatOptions = {}): Promise<StageInvite> {
    return this.#context.signaling.request('inviteToStage', { identity, ...options });
  }

  /** Resolves once this client is on stage (and, with autoPublishOnStage, publishing). */
  async acceptInvite(): Promise<void> {
    await this.#context.signaling.request('acceptInvite', {});
    await this.#roleChain;
  }

  async declineInvite(): Promise<void> {
    await this.#context.signaling.request('declineInvite', {});
    this.#state.invite = null;
  }

  async removeFromStage(identity: string): Promise<void> {
    await this.#context.signaling.request('removeFromStage', { identity });
  }

  /** Back to the audience: this client's tracks end for everyone. */
  async leaveStage(): Promise<void> {
    await this.#context.signaling.request('leaveStage', {});
    await this.#roleChain;
  }

  /** Hosts: pause (or let go of) a guest's source on the server; the guest cannot unmute it. */
  async setParticipantMuted(identity: string, source: StageSource, muted: boolean): Promise<void> {
    await this.#context.signaling.request('muteParticipant', { identity, source, muted });
  }

  async #onRoleChanged(event: RoleChanged): Promise<void> {
    const { signaling, localParticipant, emit } = this.#context;
    const { publishing, transports } = this.#media;
    if (signaling.ended) return;
    localParticipant.role = event.role;
    this.#sources = event.sources;
    if (event.role === 'audience') {
      publishing.withdrawAll();
      transports.closeSend();
      emit('roleChanged', event.role, event);
      return;
    }
    if (event.sendTransport) transports.useSend(event.sendTransport);
    emit('roleChanged', event.role, event);
    if (event.role === 'guest' && this.#autoPublishOnStage) {
      await publishing.publishOnStage(event.sources);
    }
  }
}
